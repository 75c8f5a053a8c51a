import ConciergeCore
import Crypto
import Foundation

/// One push batch, waiting for its transaction (which it may share with others: ``PushLine``).
struct PushJob: Sendable {
    var sets: [PushSteps.EncodedSet]
    var caller: Caller
    var serverMillis: UInt64
    var policy: PushPolicy

    /// Push batches share a transaction up to this many change sets in all. Much of what a group
    /// writes is shared by its sets (the pages of records, of the `last_seq` index, of each tag's
    /// audience rows), so under load a bigger group writes fewer pages per set: on SQLite, with
    /// 64 devices pushing, groups of 2,000 took 53,000 - 59,000 register writes/s where groups of
    /// 1,000 took 47,000 - 49,000 (docs/benchmarks.md). A group holds only what waits when it is
    /// taken, so under light load groups stay small and a push waits for no other.
    static let groupSets = 2_000

    /// Encoding, hashing and the checks that need no stored state are pure work: done on the
    /// caller's task, not inside the transaction.
    init(_ sets: [ChangeSet], from caller: Caller, serverMillis: UInt64, policy: PushPolicy) {
        self.sets = sets.map { PushSteps.EncodedSet($0, serverMillis: serverMillis, policy: policy) }
        self.caller = caller
        self.serverMillis = serverMillis
        self.policy = policy
    }
}

/// What one push batch gets back.
struct PushResult: Sendable {
    var outcomes: [PushOutcome]
    var counts: PushCounts
}

/// The engine-independent steps of the push pipeline; each engine runs them inside its own write
/// transaction, between its reads and writes.
enum PushSteps {
    /// A change set with its canonical bytes and their SHA-256 (the content hash), and what the
    /// checks that need no stored state made of it (``prepare(_:serverMillis:policy:)``): used only
    /// once no stored outcome answers the set, so the order of checks stays as documented.
    struct EncodedSet: Sendable {
        var set: ChangeSet
        var bytes: [UInt8]
        var hash: Data
        /// The set after its upgrade steps with its changes by record, or why it is refused.
        var prepared: Result<PreparedSet, SyncError>
        /// What the log stores of the prepared set: the set alone in the compact binary form
        /// (empty when it is refused). Made here, beside the other requests, not in the group.
        var loggedBytes: [UInt8]

        init(_ set: ChangeSet, serverMillis: UInt64, policy: PushPolicy) {
            self.set = set
            bytes = set.canonicalJSON
            hash = Data(SHA256.hash(data: bytes))
            let size = bytes.count
            prepared = Result { () throws(SyncError) -> PreparedSet in
                let upgraded = try PushSteps.prepare(set, serverMillis: serverMillis, policy: policy)
                try policy.limits.check(upgraded, encodedBytes: size)
                return PreparedSet(upgraded, rules: policy.rules)
            }
            if case .success(let upgraded) = prepared {
                loggedBytes = upgraded.set.compactBinary()
            } else {
                loggedBytes = []
            }
        }
    }

    /// A set after its upgrade steps, with its changes grouped by the record they touch (in
    /// first-touch order) and what each record must be read with: made with the set's other
    /// stateless checks, so the group, which merges one set after the other, need not.
    struct PreparedSet: Sendable {
        var set: ChangeSet
        var records: [RecordChanges]

        init(_ set: ChangeSet, rules: DomainRules) {
            self.set = set
            records = set.keys.map { key in
                RecordChanges(key: key, changes: PushSteps.changes(of: set, to: key), rules: rules)
            }
        }
    }

    /// A set's changes to one record.
    struct RecordChanges: Sendable {
        var key: RecordKey
        var changes: [Change]
        /// What the record must be read with for these changes: the entries they name, and what its
        /// policy's checks read.
        var need: RecordRows.Need
        /// Whether they may move the record's audience (they change a field it reads, or the
        /// record as a whole).
        var movesAudience: Bool

        init(key: RecordKey, changes: [Change], rules: DomainRules) {
            self.key = key
            self.changes = changes
            need = rules.need(key, changes)
            movesAudience = rules.movesAudience(key, changes)
        }
    }

    /// A set for another device is refused and never stored: its id belongs to that device.
    static func checkSender(_ set: ChangeSet, _ caller: Caller) -> PushOutcome? {
        guard set.id.replica != caller.replica else { return nil }
        return .rejected(set.id, SyncError(.outOfScope, "change sets carry the sending device's replica id"))
    }

    /// An outcome stored for the same id: the same answer again, or `seqReused` for other content.
    static func replay(_ encoded: EncodedSet, stored: StoredOutcome, epoch: String) -> PushOutcome {
        let id = encoded.set.id
        guard stored.hash == encoded.hash else {
            return .rejected(
                id, SyncError(.seqReused, "this change-set id was used for other content; enrol the device again"))
        }
        if stored.status == "accepted" {
            return .duplicate(id, at: Cursor(epoch: epoch, seq: UInt64(stored.logSeq ?? 0)))
        }
        return .rejected(id, SyncError(SyncError.Code(stored.code ?? "invalid"), stored.message ?? ""))
    }

    /// Upgrade steps, then stamps and drift, then the schema: what needs no stored state.
    static func prepare(_ set: ChangeSet, serverMillis: UInt64, policy: PushPolicy) throws(SyncError) -> ChangeSet {
        let upgraded = try policy.upgrader.upgrade(set)
        try upgraded.validateStamps(serverMillis: serverMillis, drift: policy.drift)
        try policy.schema.validate(upgraded)
        return upgraded
    }

    /// The changes of `set` to one record.
    static func changes(of set: ChangeSet, to key: RecordKey) -> [Change] {
        set.changes.filter { $0.key == key }.map(\.change)
    }

    /// Applies the set's changes to one record as stored (`nil`: not yet).
    /// - Throws: ``SyncError`` `stampReused` when a stamp was used for another write.
    static func apply(_ changes: [Change], to stored: Record?, key: RecordKey, by author: Author) throws(SyncError)
        -> Record
    {
        var record = stored ?? Record(key: key)
        do {
            for change in changes { try record.apply(change, by: author) }
        } catch {
            throw SyncError(.stampReused, error.message)
        }
        return record
    }
}

/// What a pull answers, decided from the request and the log alone: both engines follow it.
enum PullPlan {
    /// Nothing to send yet: a first pull of an empty log.
    case empty(PullPage)
    /// A page of a reset snapshot (the first, or the next of one under way).
    case snapshot(SnapshotPosition)
    /// The log after the caller's cursor.
    case log(after: UInt64)

    /// - Parameters:
    ///   - head: the last log position committed, read in the pull's snapshot.
    ///   - compacted: the log position compaction has deleted through.
    /// - Throws: ``SyncError`` `invalidCursor` for a malformed token or a cursor ahead of the log.
    init(token: String?, cursor: Cursor?, epoch: String, head: UInt64, compacted: () throws -> UInt64) throws {
        if let token {
            guard let position = SnapshotPosition(token: token) else {
                throw SyncError(.invalidCursor, "the snapshot token is malformed")
            }
            if position.epoch == epoch {
                self = .snapshot(position)
                return
            }
        }
        guard let cursor, cursor.epoch == epoch else {
            if cursor == nil && head == 0 {
                self = .empty(PullPage(events: [], cursor: Cursor(epoch: epoch, seq: 0), hasMore: false))
                return
            }
            let reason = cursor == nil ? "initial" : "epochChanged"
            self = .snapshot(SnapshotPosition(epoch: epoch, reason: reason, start: head, seen: head))
            return
        }
        guard cursor.seq <= head else {
            throw SyncError(.invalidCursor, "the cursor is ahead of this server's log")
        }
        if cursor.seq < (try compacted()) {
            self = .snapshot(SnapshotPosition(epoch: epoch, reason: "compacted", start: head, seen: head))
        } else {
            self = .log(after: cursor.seq)
        }
    }

    /// Whether the caller's cursor counts as acknowledged (compaction's measure): one of this
    /// log's, on a pull that is not the next page of a snapshot under way.
    func acknowledges(_ cursor: Cursor?, epoch: String, head: UInt64) -> Bool {
        if case .snapshot(let position) = self, position.last != nil { return false }
        guard let cursor else { return false }
        return cursor.epoch == epoch && cursor.seq <= head
    }
}
