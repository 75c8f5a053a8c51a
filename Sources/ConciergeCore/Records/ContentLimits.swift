/// How large a value a change may carry: a register's value, or a log entry (its payload and its
/// personal members), measured as canonical JSON bytes. The server refuses a change set with a
/// larger one (``SyncError/Code-swift.struct/tooLarge``); a client checks the same limits before
/// it saves the change, so the user hears at once.
///
/// The server's limits are configurable (`CONCIERGE_MAX_VALUE_BYTES`, `CONCIERGE_MAX_ENTRY_BYTES`);
/// clients check the defaults.
public struct ContentLimits: Hashable, Sendable {
    /// A register's value: a subject, a summary, a name.
    public var valueBytes: Int
    /// A log entry: a message, a note, a visit report, with its payload.
    public var entryBytes: Int

    public init(valueBytes: Int, entryBytes: Int) {
        self.valueBytes = valueBytes
        self.entryBytes = entryBytes
    }

    /// 16 KiB per value, 64 KiB per entry.
    public static let `default` = ContentLimits(valueBytes: 16_384, entryBytes: 65_536)

    /// Checks one change.
    /// - Throws: ``SyncError`` `tooLarge` naming the field and the limit.
    public func check(_ change: Change) throws(SyncError) {
        switch change {
        case .write(let field, let value, _, _, _, _):
            let size = CanonicalJSON.encode(value).count
            if size > valueBytes {
                throw SyncError(.tooLarge, "\(field) is \(size) bytes; a value has at most \(valueBytes)")
            }
        case .append(let field, let entry):
            let size =
                CanonicalJSON.encode(.object(entry.payload)).count + CanonicalJSON.encode(.object(entry.personal)).count
            if size > entryBytes {
                throw SyncError(.tooLarge, "an entry of \(field) is \(size) bytes; an entry has at most \(entryBytes)")
            }
        default:
            break
        }
    }

    /// Checks every change of a set whose canonical form is `encodedBytes` long: a set smaller
    /// than the smaller limit cannot carry a value over either, and is not looked into.
    public func check(_ set: ChangeSet, encodedBytes: Int) throws(SyncError) {
        guard encodedBytes > min(valueBytes, entryBytes) else { return }
        for change in set.changes { try check(change.change) }
    }
}
