import ConciergeCore

/// The server's checks of a merge (`mergedInto` on a case or a customer's profile): staff only; a
/// marker of the right shape or null (an undo); into another record of the same type that exists,
/// of the same provider, in the author's scope; two cases of one customer. A cycle is not refused:
/// reading resolves it (``Redirects``).
enum MergeChecks {
    /// Why staff merged a record is theirs: a customer's projection leaves the `reason` out.
    static let internalValueMembers = [MergeFields.mergedInto: Set(["reason"])]

    /// The marker the changes write to `mergedInto`: `nil` when they do not write it, `.some(nil)`
    /// for an undo.
    /// - Throws: `malformed` for a value that is neither null nor a marker.
    static func written(in changes: [Change]) throws(SyncError) -> MergeMarker?? {
        var written: MergeMarker?? = nil
        for change in changes {
            guard case .write(MergeFields.mergedInto, let value, _, _, _, _) = change else { continue }
            if value == .null {
                written = .some(nil)
            } else if let marker = MergeMarker(value) {
                written = .some(marker)
            } else {
                throw SyncError(.malformed, "mergedInto is null or {\"into\": id, \"reason\": text}")
            }
        }
        return written
    }

    /// The marker the write sets (not an undo), for ``RecordPolicy/related(_:)``.
    static func target(of write: RecordWrite) -> MergeMarker? {
        (try? written(in: write.changes)).flatMap { $0 }
    }

    /// Checks a write of `mergedInto` on a case, if there is one.
    static func authorizeCaseMerge(_ write: RecordWrite) throws(SyncError) {
        guard let written = try written(in: write.changes) else { return }
        try requireStaff(write.principal, "merge cases")
        guard let marker = written else { return }
        guard marker.into != write.key.id else { throw SyncError(.invalidMerge, "a case cannot merge into itself") }
        let targetKey = RecordKey(type: .serviceCase, id: marker.into)
        guard let target = write.related[targetKey], !target.isDeleted, let targetCase = ServiceCase(target) else {
            throw SyncError(.invalidMerge, "no case \(marker.into) to merge into")
        }
        guard targetCase.provider?.rawValue == write.current.value(CaseFields.provider)?.stringValue else {
            throw SyncError(.outOfScope, "the cases belong to different providers")
        }
        guard !CasePolicy().audience(of: target, owner: nil).isDisjoint(with: write.principal.tags) else {
            throw SyncError(.outOfScope, "the case to merge into is not in the author's scope")
        }
        guard let customer = write.current.value(CaseFields.customer)?.stringValue,
            let other = targetCase.customer?.rawValue
        else { throw SyncError(.invalidMerge, "both cases name their customer") }
        if customer != other {
            let profile = write.related[RecordKey(type: .profile, id: RecordID(customer))]
            guard profile?.mergeMarker?.into.rawValue == other else {
                throw SyncError(
                    .invalidMerge, "the cases belong to different customers; merge the customers first")
            }
        }
    }

    /// Checks a write of `mergedInto` on a customer's profile, if there is one.
    static func authorizeCustomerMerge(_ write: RecordWrite) throws(SyncError) {
        guard let written = try written(in: write.changes) else { return }
        try requireStaff(write.principal, "merge customers")
        guard let marker = written else { return }
        guard marker.into != write.key.id else {
            throw SyncError(.invalidMerge, "a customer cannot merge into themselves")
        }
        guard let survivor = write.principals[PrincipalID(marker.into.rawValue)], survivor.role == .customer else {
            throw SyncError(.invalidMerge, "no customer \(marker.into) to merge into")
        }
        guard survivor.provider == write.principal.provider else {
            throw SyncError(.outOfScope, "the customers belong to different providers")
        }
    }

    static func requireStaff(_ principal: Principal, _ action: String) throws(SyncError) {
        guard principal.role.isStaff else {
            throw SyncError(.forbiddenField, "only staff \(action); \(principal.role.withArticle) cannot")
        }
    }
}
