extension ChangeSet {
    /// The stamp checks the server runs on every set before authorizing it.
    ///
    /// - Every stamp (of writes, adds, removes, appends, deletions, redactions) carries the set's
    ///   replica id, and the stamps of one set are distinct; else `invalidStamp` (final).
    /// - No stamp's millisecond part is more than `drift` ahead of `serverMillis`; else `clockSkew`
    ///   (retryable: the client stamps the set again).
    /// - Throws: ``SyncError`` naming the first offending change.
    public func validateStamps(serverMillis: UInt64, drift: DriftBound = .default) throws(SyncError) {
        var seen = Set<Stamp>()
        seen.reserveCapacity(changes.count)
        for (index, change) in changes.enumerated() {
            let stamp = change.change.stamp
            guard stamp.replica == id.replica else {
                throw SyncError(.invalidStamp, "change \(index) carries another replica's stamp")
            }
            guard seen.insert(stamp).inserted else {
                throw SyncError(.invalidStamp, "change \(index) reuses a stamp of the same set")
            }
            if drift.isTooFarAhead(stamp.hlc, serverMillis: serverMillis) {
                throw SyncError(
                    .clockSkew,
                    "change \(index) is stamped \(stamp.hlc.millis - serverMillis) ms ahead of the server's clock (bound \(drift.milliseconds) ms)"
                )
            }
        }
    }
}
