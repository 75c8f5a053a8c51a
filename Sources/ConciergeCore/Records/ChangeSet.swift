/// The id of a change set: the replica that made it and its sequence number there.
public struct ChangeSetID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var replica: ReplicaID
    public var seq: UInt64

    public init(replica: ReplicaID, seq: UInt64) {
        self.replica = replica
        self.seq = seq
    }

    public static func < (lhs: ChangeSetID, rhs: ChangeSetID) -> Bool {
        (lhs.replica, lhs.seq) < (rhs.replica, rhs.seq)
    }

    public var description: String { "\(replica)/\(seq)" }
}

/// A batch of changes made by one user action: applied whole or rejected whole.
public struct ChangeSet: Hashable, Sendable {
    public var id: ChangeSetID
    public var author: Author
    /// The schema the author's app wrote against; older sets are upgraded on the server.
    public var schemaVersion: Int
    public var changes: [RecordChange]

    public init(id: ChangeSetID, author: Author, schemaVersion: Int, changes: [RecordChange]) {
        self.id = id
        self.author = author
        self.schemaVersion = schemaVersion
        self.changes = changes
    }

    /// The records this set touches, in first-touch order.
    public var keys: [RecordKey] {
        // Most sets touch one record: comparing keys costs less than hashing them.
        guard let first = changes.first?.key else { return [] }
        if changes.allSatisfy({ $0.key == first }) { return [first] }
        var seen = Set<RecordKey>()
        return changes.compactMap { seen.insert($0.key).inserted ? $0.key : nil }
    }

    /// The largest stamp in the set.
    public var largestStamp: Stamp? { changes.map(\.change.stamp).max() }

    /// Applies every change of the set that touches `record`. On error, `record` is unchanged.
    public func apply(to record: inout Record) throws(MergeError) {
        var copy = record
        for change in changes where change.key == record.key {
            try copy.apply(change.change, by: author)
        }
        record = copy
    }

    /// Applies the whole set to a collection of records, creating records it touches first.
    /// On error, `records` is unchanged.
    public func apply(to records: inout [RecordKey: Record]) throws(MergeError) {
        var touched: [RecordKey: Record] = [:]
        for change in changes {
            var record = touched[change.key] ?? records[change.key] ?? Record(key: change.key)
            try record.apply(change.change, by: author)
            touched[change.key] = record
        }
        records.merge(touched) { _, new in new }
    }

    /// The same set with every stamp passed through `map` (restamping after `clockSkew`).
    public func restamped(_ map: (Stamp) -> Stamp) -> ChangeSet {
        var copy = self
        copy.changes = changes.map { RecordChange($0.key, $0.change.restamped(map)) }
        return copy
    }
}
