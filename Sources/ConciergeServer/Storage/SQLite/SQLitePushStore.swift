import ConciergeCore
import Foundation
import GRDB

/// A group push's reads on SQLite, made beside the one writer (``SQLitePushEngine``): committed rows,
/// read through the pool's readers (blocking calls, on the line's own thread), with the rows of the
/// group the writer is writing meanwhile (not committed yet) laid over them (``LinePushStore``).
/// Principals are never written by pushes: they are read as committed.
struct SQLitePushStore: LinePushStore {
    let pool: DatabasePool
    /// The group being written, or `nil` when none is.
    let before: UncommittedGroup?
    /// The last log position assigned.
    private(set) var head: Int64

    /// - Parameter before: the group being written while this one is checked (`nil`: none is, and
    ///   the log's head is read as committed).
    init(pool: DatabasePool, before: UncommittedGroup?) async throws {
        self.pool = pool
        self.before = before
        if let before {
            head = before.head
        } else {
            head = Int64(try Self.read(pool) { db in try SQLiteServerStore.head(in: db) })
        }
    }

    /// Reads on one of the pool's readers, blocking the calling thread: the line checks its groups
    /// on a thread of its own (``OwnThreadExecutor``), where a read costs less than a hop to the
    /// reader's queue and back, and holds no thread of the concurrency pool meanwhile.
    private static func read<T>(_ pool: DatabasePool, _ body: (Database) throws -> T) throws -> T {
        try pool.read(body)
    }

    /// A JSON array of the tags.
    static func audienceText(_ tags: [String]) -> String { CanonicalJSON.string(.array(tags.map(Value.string))) }

    func committedOutcomes(_ ids: [ChangeSetID]) async throws -> [ChangeSetID: StoredOutcome] {
        // A device numbers its sets one after the other: one range of sequence numbers per
        // device is read (a range scan of the key) instead of one look-up per set.
        var ranges: [ReplicaID: ClosedRange<UInt64>] = [:]
        for id in ids {
            let seq = id.seq
            ranges[id.replica] =
                ranges[id.replica].map { min($0.lowerBound, seq)...max($0.upperBound, seq) } ?? seq...seq
        }
        let (wanted, replicaRanges) = (Set(ids), ranges)
        return try Self.read(pool) { db in
            var stored: [ChangeSetID: StoredOutcome] = [:]
            let statement = try db.cachedStatement(
                sql: """
                    SELECT set_seq, content_hash, status, code, message, log_seq FROM change_set_outcome
                    WHERE replica_id = ? AND set_seq BETWEEN ? AND ?
                    """)
            for (replica, range) in replicaRanges {
                let rows = try Row.fetchCursor(
                    statement,
                    arguments: [
                        replica.description, Int64(bitPattern: range.lowerBound), Int64(bitPattern: range.upperBound),
                    ])
                while let row = try rows.next() {
                    let id = ChangeSetID(replica: replica, seq: UInt64(bitPattern: row[0]))
                    guard wanted.contains(id) else { continue }
                    stored[id] = StoredOutcome(
                        hash: row[1], status: row[2], code: row[3], message: row[4], logSeq: row[5])
                }
            }
            return stored
        }
    }

    func serverIdentity(pending: inout PendingRows) async throws -> ServerIdentity {
        var meta = try Self.read(pool) { db in
            var meta: [String: String] = [:]
            for key in ServerIdentity.metaKeys {
                meta[key] = try String.fetchOne(
                    db.cachedStatement(sql: "SELECT value FROM server_meta WHERE key = ?"), arguments: [key])
            }
            return meta
        }
        for rows in [before?.rows, pending].compactMap({ $0 }) { meta.merge(rows.serverMeta) { $1 } }
        return ServerIdentity(meta: meta)
    }

    func principal(_ id: PrincipalID) async throws -> Principal? {
        try Self.read(pool) { db in try SQLiteServerStore.principal(id, in: db) }
    }

    func principals(reading tags: Set<String>) async throws -> Set<String> {
        guard !tags.isEmpty else { return [] }
        return try Self.read(pool) { db in try SQLiteServerStore.principals(reading: tags, in: db) }
    }

    mutating func nextPosition() async throws -> Int64 {
        head += 1
        return head
    }

    func committedRows(_ keys: [RecordKey], fields: Bool, needs: [RecordKey: RecordRows.Need]) async throws
        -> [RecordKey: StoredRows]
    {
        try Self.read(pool) { db in
            var result: [RecordKey: StoredRows] = [:]
            for key in keys {
                result[key] = try StoredRows.read(key, fields: fields, need: needs[key] ?? .init([]), in: db)
            }
            return result
        }
    }
}

/// One record's rows as read, before they become a record.
struct StoredRows {
    let key: RecordKey
    var markers: (deleted: String?, redacted: String?)?
    var fields: [String: Data] = [:]
    var entries: [EntrySlot: Data] = [:]

    struct EntrySlot: Hashable {
        var field: String
        var entry: String
    }

    /// The record row and every field row when `fields`, and the entry rows `need` asks for.
    static func read(_ key: RecordKey, fields: Bool, need: RecordRows.Need, in db: Database) throws -> StoredRows {
        var rows = StoredRows(key: key)
        if fields {
            rows.markers = try RecordRows.markers(key, in: db)
            guard rows.markers != nil else { return rows }
            for (field, state) in try RecordRows.fieldRows(key, nil, in: db) { rows.fields[field] = state }
        }
        for row in try RecordRows.entryRows(key, need: need, in: db) {
            rows.entries[EntrySlot(field: row.field, entry: row.entry)] = row.state
        }
        return rows
    }

    /// Lays pending rows over these (the record is among `rows.records`): its record row, its
    /// field rows when `fields`, and the entry rows `need` asks for.
    mutating func lay(_ rows: PendingRows, fields: Bool, need: RecordRows.Need) {
        guard let record = rows.records[key] else { return }
        markers = (record.deleted, record.redacted)
        let (type, id) = (key.type.rawValue, key.id.rawValue)
        if fields {
            for (slot, state) in rows.fields where slot.type == type && slot.id == id {
                self.fields[slot.field] = state
            }
        }
        for (slot, entry) in rows.entries
        where slot.type == type && slot.id == id
            && need.wants(field: slot.field, entry: slot.entryID, kind: entry.kind)
        {
            entries[EntrySlot(field: slot.field, entry: slot.entryID)] = entry.state
        }
    }

    /// Lays the rows of `layers` over `result` (the rows of the records they wrote; a later layer
    /// over an earlier one): a group's reads see the group being written and its own rows.
    static func lay(
        _ layers: [PendingRows?], over result: inout [RecordKey: StoredRows], keys: [RecordKey], fields: Bool,
        needs: [RecordKey: RecordRows.Need]
    ) {
        for rows in layers.compactMap({ $0 }) where !rows.records.isEmpty {
            for key in keys where rows.records[key] != nil {
                result[key]!.lay(rows, fields: fields, need: needs[key] ?? .init([]))
            }
        }
    }

    var entryRows: [(field: String, state: Data)] { entries.map { ($0.key.field, $0.value) } }

    /// The record, or `nil` when there is none.
    func record() throws -> Record? {
        guard let markers else { return nil }
        return try RecordRows.assemble(
            key, deleted: markers.deleted, redacted: markers.redacted, fields: fields.map { ($0.key, $0.value) },
            entries: entryRows)
    }
}
