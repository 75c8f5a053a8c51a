import ConciergeCore
import Crypto
import Foundation
import GRDB

extension SQLiteServerStore {
    /// Applies a batch of change sets in the server's order of checks: the stored outcome, the
    /// schema version, the stamps, the schema, authorization, then merge and append.
    ///
    /// Accepted sets and final rejections are stored; retryable ones are not. A refused set leaves
    /// no trace: not in records, not in the log.
    public func push(_ sets: [ChangeSet], from caller: Caller, serverMillis: UInt64, policy: PushPolicy)
        async throws -> (outcomes: [PushOutcome], counts: PushCounts)
    {
        let result = try await pushes.run(PushJob(sets, from: caller, serverMillis: serverMillis, policy: policy))
        return (result.outcomes, result.counts)
    }

    /// A group's rows in the order the writer writes them: each table's in key order, so that each
    /// statement finds its pages where the one before left them. Made beside the writer (sorting
    /// thousands of keys is work the one writer need not do).
    struct WriteOrder: Sendable {
        var rows: PendingRows
        var records: [PendingRows.RecordRow]
        var entries: [(key: PendingRows.EntryKey, value: (kind: String, state: Data))]
        var fields: [(key: PendingRows.FieldKey, value: Data)]
        var audience: [PendingRows.AudienceRow]

        init(_ rows: PendingRows) {
            self.rows = rows
            records = rows.records.values.sorted { ($0.type, $0.id) < ($1.type, $1.id) }
            entries = rows.entries.sorted {
                ($0.key.type, $0.key.id, $0.key.field, $0.key.entryID) < (
                    $1.key.type, $1.key.id, $1.key.field, $1.key.entryID
                )
            }
            fields = rows.fields.sorted {
                ($0.key.type, $0.key.id, $0.key.field) < ($1.key.type, $1.key.id, $1.key.field)
            }
            audience = rows.audience.sorted { ($0.tag, $0.seq) < ($1.tag, $1.seq) }
        }
    }

    /// Writes a group's rows, checked and merged beside the writer (``SQLitePushEngine``), inside
    /// the writer's transaction: the log, the records' rows, who may read them, scope events,
    /// outcomes, and the devices' last contact.
    static func write(_ order: WriteOrder, callers: [Caller], in db: Database) throws {
        let now = StoreSupport.nowMillis()
        let rows = order.rows
        try RowStatement(
            "INSERT INTO change_log (seq, replica_id, set_seq, change_set, committed_at) VALUES (?, ?, ?, ?, ?)", in: db
        ).run(each: rows.log) {
            $0.bind($1.seq)
            $0.bind($1.replica)
            $0.bind($1.setSeq)
            $0.bind($1.changeSet)
            $0.bind(now)
        }
        try RowStatement(
            """
            INSERT INTO record (type, id, deleted, redacted, audience, last_seq) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (type, id) DO UPDATE SET deleted = excluded.deleted, redacted = excluded.redacted,
                audience = excluded.audience, last_seq = excluded.last_seq
            """, in: db
        ).run(each: order.records) {
            $0.bind($1.type)
            $0.bind($1.id)
            $0.bind($1.deleted)
            $0.bind($1.redacted)
            $0.bind($1.audience)
            $0.bind($1.lastSeq)
        }
        try RowStatement(
            """
            INSERT INTO record_entry (type, id, field, entry_id, kind, state) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (type, id, field, entry_id) DO UPDATE SET kind = excluded.kind, state = excluded.state
            """, in: db
        ).run(each: order.entries) {
            $0.bind($1.key.type)
            $0.bind($1.key.id)
            $0.bind($1.key.field)
            $0.bind($1.key.entryID)
            $0.bind($1.value.kind)
            $0.bind($1.value.state)
        }
        try RowStatement(
            """
            INSERT INTO record_field (type, id, field, state) VALUES (?, ?, ?, ?)
            ON CONFLICT (type, id, field) DO UPDATE SET state = excluded.state
            """, in: db
        ).run(each: order.fields) {
            $0.bind($1.key.type)
            $0.bind($1.key.id)
            $0.bind($1.key.field)
            $0.bind($1.value)
        }
        try RowStatement("INSERT OR IGNORE INTO change_audience (tag, seq, type, id) VALUES (?, ?, ?, ?)", in: db)
            .run(each: order.audience) {
                $0.bind($1.tag)
                $0.bind($1.seq)
                $0.bind($1.key.type.rawValue)
                $0.bind($1.key.id.rawValue)
            }
        try RowStatement(
            "INSERT OR IGNORE INTO scope_event (principal_id, seq, kind, type, id) VALUES (?, ?, ?, ?, ?)", in: db
        ).run(each: rows.scope) {
            $0.bind($1.principal)
            $0.bind($1.seq)
            $0.bind($1.kind)
            $0.bind($1.key.type.rawValue)
            $0.bind($1.key.id.rawValue)
        }
        // An erasure leaves no copy of what it erased: the record's snapshot image goes with the
        // change (the builder makes a new one). Other changes only make it stale.
        try RowStatement("DELETE FROM record_image WHERE type = ? AND id = ?", in: db).run(each: rows.erasedImages) {
            $0.bind($1.type.rawValue)
            $0.bind($1.id.rawValue)
        }
        try RowStatement(
            """
            INSERT INTO change_set_outcome (replica_id, set_seq, content_hash, status, code, message, log_seq)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, in: db
        ).run(each: rows.outcomes) {
            $0.bind($1.replica)
            $0.bind($1.setSeq)
            $0.bind($1.hash)
            $0.bind($1.status)
            $0.bind($1.code)
            $0.bind($1.message)
            $0.bind($1.logSeq)
        }
        try RowStatement(
            "INSERT INTO server_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            in: db
        ).run(each: rows.serverMeta) {
            $0.bind($1.key)
            $0.bind($1.value)
        }
        try RowStatement("UPDATE device SET last_seen_at = ? WHERE replica_id = ?", in: db).run(
            each: Set(callers.map(\.replica.description))
        ) {
            $0.bind(now)
            $0.bind($1)
        }
    }

    /// The last log position ever assigned (compaction may have deleted its row).
    static func head(in db: Database) throws -> UInt64 {
        UInt64(
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM sqlite_sequence WHERE name = 'change_log'"))
                ?? 0)
    }

    /// The principals who read any of `tags`.
    static func principals(reading tags: Set<String>, in db: Database) throws -> Set<String> {
        let list = Array(tags)
        return Set(
            try String.fetchAll(
                db.cachedStatement(
                    sql:
                        "SELECT DISTINCT principal_id FROM principal_tag WHERE tag IN (\(list.map { _ in "?" }.joined(separator: ",")))"
                ),
                arguments: StatementArguments(list)))
    }

    // MARK: Pull

    /// The caller's projection of the log after `cursor`: at most `limit` change sets (pages end
    /// on set boundaries), with `enter` and `leave` events in order; or a reset snapshot, in pages
    /// of at most `limit` records (newest activity first), for a first sync, a cursor from another
    /// epoch or one older than compaction. `snapshot` asks for a snapshot's next page.
    /// - Throws: ``SyncError`` `invalidCursor` for a cursor ahead of the log or a malformed token.
    public func pull(
        for caller: Caller, cursor: ConciergeCore.Cursor?, limit: Int, snapshot token: String?
    ) async throws -> PullResponse {
        let epoch = self.epoch
        let principal = caller.principal
        let replica = caller.replica.description
        let stale = StoreSupport.nowMillis() - 3_600_000
        let (response, acknowledges): (PullResponse, Bool) = try await read { db in
            let head = try Self.head(in: db)
            let plan = try PullPlan(token: token, cursor: cursor, epoch: epoch, head: head) {
                UInt64(
                    try Int64.fetchOne(
                        db.cachedStatement(
                            sql: "SELECT CAST(value AS INTEGER) FROM server_meta WHERE key = 'compacted_through'"))
                        ?? 0)
            }
            // The cursor the caller sends is what it holds: compaction's measure. Record it only
            // when it moved, or when the last contact is an hour old (the retention window counts
            // in days): a pull that changes nothing costs no write transaction.
            var acknowledges = false
            if plan.acknowledges(cursor, epoch: epoch, head: head), let cursor {
                acknowledges =
                    try Bool.fetchOne(
                        db.cachedStatement(
                            sql: """
                                SELECT acked_epoch IS NOT ? OR acked_seq != ? OR COALESCE(last_seen_at, 0) < ?
                                FROM device WHERE replica_id = ?
                                """),
                        arguments: [cursor.epoch, Int64(cursor.seq), stale, replica]) ?? false
            }
            switch plan {
            case .empty(let page):
                return (.page(page), false)
            case .snapshot(let position):
                return (
                    .reset(try Self.snapshotPage(for: principal, from: position, head: head, limit: limit, in: db)),
                    acknowledges
                )
            case .log(let after):
                return (
                    .page(try Self.page(for: principal, after: after, head: head, limit: limit, epoch: epoch, in: db)),
                    acknowledges
                )
            }
        }
        if acknowledges, let cursor {
            try await write { db in
                try db.cachedExecute(
                    sql: "UPDATE device SET acked_epoch = ?, acked_seq = ?, last_seen_at = ? WHERE replica_id = ?",
                    arguments: [cursor.epoch, Int64(cursor.seq), StoreSupport.nowMillis(), replica])
            }
        }
        return response
    }

    /// A page of the log for `principal` after `start` (``PullAssembly/logPage(_:_:for:head:limit:epoch:rules:)``).
    static func page(
        for principal: Principal, after start: UInt64, head: UInt64, limit: Int, epoch: String, in db: Database
    ) throws -> PullPage {
        let tags = Array(principal.tags)
        let placeholders = tags.map { _ in "?" }.joined(separator: ",")
        var rows = PullAssembly.LogRows()
        rows.seqs = try Int64.fetchAll(
            db,
            sql: """
                SELECT seq FROM change_audience WHERE tag IN (\(placeholders)) AND seq > ?
                UNION SELECT seq FROM scope_event WHERE principal_id = ? AND seq > ?
                ORDER BY seq LIMIT ?
                """,
            arguments: StatementArguments(
                tags.map { $0 as any DatabaseValueConvertible } + [
                    Int64(start), principal.id.rawValue, Int64(start), limit + 1,
                ]))
        var lookups = PullAssembly.Lookups()
        if let last = PullAssembly.page(of: rows.seqs, limit: limit).seqs.last {
            for row in try Row.fetchAll(
                db.cachedStatement(
                    sql:
                        "SELECT DISTINCT seq, type, id FROM change_audience WHERE tag IN (\(placeholders)) AND seq > ? AND seq <= ?"
                ),
                arguments: StatementArguments(tags.map { $0 as any DatabaseValueConvertible } + [Int64(start), last]))
            {
                rows.visible[row["seq"], default: []].insert(
                    RecordKey(type: RecordType(row["type"]), id: RecordID(row["id"])))
            }
            for row in try Row.fetchAll(
                db.cachedStatement(
                    sql:
                        "SELECT seq, kind, type, id FROM scope_event WHERE principal_id = ? AND seq > ? AND seq <= ? ORDER BY seq, kind, type, id"
                ),
                arguments: [principal.id.rawValue, Int64(start), last])
            {
                rows.scope[row["seq"], default: []].append(
                    (row["kind"], RecordKey(type: RecordType(row["type"]), id: RecordID(row["id"]))))
            }
            for seq in rows.visible.keys {
                if let data = try Data.fetchOne(
                    db.cachedStatement(sql: "SELECT change_set FROM change_log WHERE seq = ?"), arguments: [seq])
                {
                    rows.sets[seq] = try RecordRows.stored(data, BinaryForm.changeSet(stored:))
                }
            }
            for key in PullAssembly.entered(rows) {
                guard let record = try RecordRows.load(key, need: .all, in: db) else { continue }
                lookups.records[key] = record
                lookups.owners[key] = try owner(of: key, in: db)
            }
            for erased in PullAssembly.erased(rows) {
                lookups.erasedKinds[erased] = try String.fetchOne(
                    db.cachedStatement(sql: "SELECT kind FROM record_entry WHERE type = ? AND id = ? AND entry_id = ?"),
                    arguments: [erased.key.type.rawValue, erased.key.id.rawValue, erased.entry.rawValue])
            }
        }
        return PullAssembly.logPage(rows, lookups, for: principal, head: head, limit: limit, epoch: epoch)
    }

    static func owner(of key: RecordKey, in db: Database) throws -> Principal? {
        guard DomainRules.standard.isOwnedByItsID(key) else { return nil }
        return try principal(PrincipalID(key.id.rawValue), in: db)
    }

    /// One page of a paged reset snapshot: first the records in scope that changed since the
    /// previous page was taken (whole, so none is left half-delivered), then the next `limit`
    /// records that last changed at or before the snapshot's start, newest first. Each record goes
    /// as its snapshot image where that is current and the principal may see all of it, and is
    /// read from its rows otherwise.
    static func snapshotPage(
        for principal: Principal, from position: SnapshotPosition, head: UInt64, limit: Int, in db: Database
    ) throws -> ResetSnapshot {
        let tags = Array(principal.tags)
        let inScope =
            "EXISTS (SELECT 1 FROM json_each(record.audience) AS tag WHERE tag.value IN (\(tags.map { _ in "?" }.joined(separator: ","))))"
        // The image, when it is current (built at the record's last change) and shows the principal
        // nothing hidden from them.
        let image = """
            LEFT JOIN record_image AS image ON image.type = record.type AND image.id = record.id
                AND image.seq = record.last_seq AND (image.internal = 0 OR ?)
            """
        let seesInternal = Projection.seesInternal(principal)
        let continues = position.last != nil
        var rows: [Row] = []
        if continues && head > position.seen {
            rows += try Row.fetchAll(
                db,
                sql: """
                    SELECT record.type, record.id, record.last_seq, image.image FROM record \(image)
                    WHERE record.last_seq > ? AND \(inScope)
                    """,
                arguments: StatementArguments(
                    [seesInternal, Int64(position.seen)] as [any DatabaseValueConvertible] + tags))
        }
        let changed = rows.count
        let last = position.last ?? (Int64.max, "", "")
        rows += try Row.fetchAll(
            db,
            sql: """
                SELECT record.type, record.id, record.last_seq, image.image FROM record \(image)
                WHERE record.last_seq <= ? AND (record.last_seq, record.type, record.id) < (?, ?, ?) AND \(inScope)
                ORDER BY record.last_seq DESC, record.type DESC, record.id DESC LIMIT ?
                """,
            // The bound on last_seq alone lets SQLite walk the index from where the last page ended
            // (a row-value comparison by itself makes it scan from the top on every page).
            arguments: StatementArguments(
                [seesInternal, min(Int64(position.start), last.seq), last.seq, last.type, last.id]
                    as [any DatabaseValueConvertible] + tags + [limit + 1]))
        let (images, keys, next) = PullAssembly.snapshotPage(
            rows.map { row in
                PullAssembly.SnapshotRow(
                    key: RecordKey(type: RecordType(row[0]), id: RecordID(row[1])), lastSeq: row[2],
                    image: (row[3] as Data?).map { [UInt8]($0) })
            }, changed: changed, position: position, head: head, limit: limit)
        return ResetSnapshot(
            records: try projected(keys, for: principal, in: db), images: images,
            cursor: Cursor(epoch: position.epoch, seq: position.start), reason: position.reason,
            continues: continues, more: next?.token)
    }

    /// Everything in the principal's scope, projected, at `cursor`.
    static func snapshot(for principal: Principal, at cursor: Cursor, reason: String, in db: Database) throws
        -> ResetSnapshot
    {
        let tags = Array(principal.tags)
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT DISTINCT record.type, record.id FROM record, json_each(record.audience) AS tag
                WHERE tag.value IN (\(tags.map { _ in "?" }.joined(separator: ",")))
                ORDER BY record.type, record.id
                """,
            arguments: StatementArguments(tags))
        let keys = rows.map { RecordKey(type: RecordType($0["type"]), id: RecordID($0["id"])) }
        return ResetSnapshot(records: try projected(keys, for: principal, in: db), cursor: cursor, reason: reason)
    }

    /// The records as stored, projected for `principal`; keys with no record are skipped.
    static func projected(_ keys: [RecordKey], for principal: Principal, in db: Database) throws -> [Record] {
        try RecordRows.loadWhole(keys, in: db).map { Projection.record($0, for: principal) }
    }

    // MARK: Reading for tests, admin and integrity

    /// A record as stored (the whole of it), or `nil`.
    public func record(_ key: RecordKey) async throws -> ConciergeCore.Record? {
        try await read { db in try RecordRows.load(key, need: .all, in: db) }
    }

    /// Every record `principal` may see, projected for them: what their replica must hold.
    public func projection(for principal: Principal) async throws -> [ConciergeCore.Record] {
        let epoch = self.epoch
        return try await read { db in
            try Self.snapshot(for: principal, at: Cursor(epoch: epoch, seq: 0), reason: "", in: db).records
        }
    }

    /// The caller's projection and the log position it was read at, in one read transaction.
    public func projectionWithHead(for principal: Principal) async throws -> ([ConciergeCore.Record], UInt64) {
        let epoch = self.epoch
        return try await read { db in
            let head = try Self.head(in: db)
            return (
                try Self.snapshot(for: principal, at: Cursor(epoch: epoch, seq: head), reason: "", in: db).records, head
            )
        }
    }

    /// Deletes change-log payloads every replica seen within the retention window has pulled:
    /// everything at or below the lowest acknowledged cursor of the active devices seen since
    /// `now - retentionMillis`. A replica whose cursor is older gets a `reset` on its next pull.
    /// Records, deletion markers and outcomes stay.
    /// - Returns: the horizon (the highest compacted log position).
    @discardableResult
    public func compact(now: Int64, retentionMillis: Int64)
        async throws -> UInt64
    {
        let epoch = self.epoch
        return try await write { db in
            let lowest = try Int64.fetchOne(
                db,
                sql: """
                    SELECT MIN(CASE WHEN acked_epoch = ? THEN acked_seq ELSE 0 END) FROM device
                    WHERE revoked_at IS NULL AND COALESCE(last_seen_at, created_at) >= ?
                    """,
                arguments: [epoch, now - retentionMillis])
            let previous =
                try Int64.fetchOne(
                    db.cachedStatement(
                        sql: "SELECT CAST(value AS INTEGER) FROM server_meta WHERE key = 'compacted_through'")) ?? 0
            // Never past a follower: it has yet to handle what lies after its position.
            let followers = try Int64.fetchOne(
                db,
                sql: "SELECT MIN(CAST(value AS INTEGER)) FROM server_meta WHERE key LIKE 'follower:%'")
            // With no device seen within the window, keep the log: there is nobody to measure by.
            guard let devices = lowest else { return UInt64(previous) }
            let horizon = min(devices, followers ?? devices)
            guard horizon > previous else { return UInt64(previous) }
            try db.cachedExecute(sql: "DELETE FROM change_log WHERE seq <= ?", arguments: [horizon])
            try db.cachedExecute(sql: "DELETE FROM change_audience WHERE seq <= ?", arguments: [horizon])
            try db.cachedExecute(sql: "DELETE FROM scope_event WHERE seq <= ?", arguments: [horizon])
            try db.cachedExecute(
                sql: """
                    INSERT INTO server_meta (key, value) VALUES ('compacted_through', ?)
                    ON CONFLICT (key) DO UPDATE SET value = excluded.value
                    """,
                arguments: [String(horizon)])
            return UInt64(horizon)
        }
    }

    public func follow(
        _ follower: String, limit: Int, _ handle: @Sendable @escaping ([LoggedChangeSet]) async throws -> Void
    ) async throws -> Int {
        let key = StoreSupport.followerKey(follower)
        // One process holds the SQLite file. A follower may also be brought up to date on demand
        // (the outbound queue, before it hands deliveries out) while its service runs: both handle
        // the batch (handling is idempotent), and the position only ever moves forward.
        let position = try await write { db in
            try db.cachedExecute(
                sql: """
                    INSERT INTO server_meta (key, value)
                    SELECT ?, COALESCE((SELECT value FROM server_meta WHERE key = 'compacted_through'), '0')
                    ON CONFLICT (key) DO NOTHING
                    """,
                arguments: [key])
            return try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT CAST(value AS INTEGER) FROM server_meta WHERE key = ?"),
                arguments: [key]) ?? 0
        }
        let sets = try await read { db in
            let head = Int64(try Self.head(in: db))
            return try Row.fetchAll(
                db.cachedStatement(
                    sql: "SELECT seq, change_set FROM change_log WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?"),
                arguments: [position, head, limit]
            ).map { row in
                LoggedChangeSet(
                    seq: UInt64(row[0] as Int64),
                    changeSet: try RecordRows.stored(row[1], BinaryForm.changeSet(stored:)))
            }
        }
        guard let last = sets.last else { return 0 }
        try await handle(sets)
        try await write { db in
            try db.cachedExecute(
                sql: "UPDATE server_meta SET value = ? WHERE key = ? AND CAST(value AS INTEGER) < ?",
                arguments: [String(last.seq), key, Int64(last.seq)])
        }
        return sets.count
    }

    public func followerPosition(_ follower: String) async throws -> UInt64? {
        try await read { db in
            try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT CAST(value AS INTEGER) FROM server_meta WHERE key = ?"),
                arguments: [StoreSupport.followerKey(follower)]
            ).map(UInt64.init)
        }
    }

    /// The ids of the change sets of `replica` the server accepted.
    public func acceptedSets(of replica: ReplicaID) async throws -> Set<ChangeSetID> {
        try await read { db in
            Set(
                try Int64.fetchAll(
                    db.cachedStatement(
                        sql: "SELECT set_seq FROM change_set_outcome WHERE replica_id = ? AND status = 'accepted'"),
                    arguments: [replica.description]
                ).map { ChangeSetID(replica: replica, seq: UInt64(bitPattern: $0)) })
        }
    }

    /// Row counts of the tables, for stats and for tests that check a refusal left no trace.
    public func stats() async throws -> [String: Int] {
        try await read { db in
            var result: [String: Int] = [:]
            for table in [
                "provider", "principal", "device", "record", "record_field", "record_entry", "change_log",
                "change_audience", "scope_event",
            ] {
                result[table] = try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM \(table)"))!
            }
            result["accepted_outcome"] = try Int.fetchOne(
                db.cachedStatement(sql: "SELECT COUNT(*) FROM change_set_outcome WHERE status = 'accepted'"))!
            result["rejected_outcome"] = try Int.fetchOne(
                db.cachedStatement(sql: "SELECT COUNT(*) FROM change_set_outcome WHERE status = 'rejected'"))!
            return result
        }
    }
}
