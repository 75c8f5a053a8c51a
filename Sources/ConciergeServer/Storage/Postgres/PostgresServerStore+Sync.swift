import ConciergeCore
import Foundation
import Logging
import PostgresNIO

extension PostgresServerStore {
    // MARK: Push

    public func push(_ sets: [ChangeSet], from caller: Caller, serverMillis: UInt64, policy: PushPolicy)
        async throws -> (outcomes: [PushOutcome], counts: PushCounts)
    {
        let result = try await pushes.run(PushJob(sets, from: caller, serverMillis: serverMillis, policy: policy))
        return (result.outcomes, result.counts)
    }

    /// Pushes a group of batches in one transaction: one hold of the head row, one read of the
    /// stored outcomes and of the records, one multi-row statement per table, one commit.
    static func push(
        _ jobs: [PushJob], client: PostgresClient, logger: Logger, epoch: String, options: Options,
        instance: String, cache: RecordCache
    ) async throws -> [PushResult] {
        let observer = options.observer
        let (results, written, head) = try await write(client: client, logger: logger) { connection, logger in
            var store = try await PostgresPushStore(connection: connection, logger: logger)
            store.writeBehindSets = options.writeBehindSets
            if cache.capacity > 0 { try await store.use(cache) }
            var push = GroupPush(store: store, epoch: epoch, cache: cache)
            do {
                try await push.prepare(jobs)
                var results: [PushResult] = []
                for job in jobs {
                    results.append(try await push.push(job))
                    try await push.store.flushBehind(&push.pending)
                }
                try await push.store.finish(
                    &push.pending, touched: push.touched, callers: jobs.map(\.caller),
                    notice: observer.sendsNotices ? FanOutNotice(push.touched, from: instance).payload : nil)
                for result in results { try await observer.beforeCommit(result.outcomes) }
                return (results, push.writtenRecords, push.store.head)
            } catch {
                await push.store.abandon()
                throw error
            }
        }
        // Committed: the group's records may enter the cache, current as of the group's last position.
        if cache.capacity > 0 {
            cache.store(written)
            cache.head = head
        }
        return results
    }

    // MARK: Pull

    public func pull(for caller: Caller, cursor: ConciergeCore.Cursor?, limit: Int, snapshot token: String?)
        async throws -> PullResponse
    {
        let epoch = self.epoch
        let principal = caller.principal
        let replica = caller.replica.description
        let stale = StoreSupport.nowMillis() - 3_600_000
        let (response, acknowledges): (PullResponse, Bool) = try await read { connection, logger in
            let reader = PostgresReader(connection: connection, logger: logger)
            let head = try await reader.head()
            let compacted = try await reader.compactedThrough()
            let plan = try PullPlan(token: token, cursor: cursor, epoch: epoch, head: head) { compacted }
            // Record the acknowledged cursor only when it moved or the last contact is an hour old.
            var acknowledges = false
            if plan.acknowledges(cursor, epoch: epoch, head: head), let cursor {
                acknowledges = try await connection.exists(
                    """
                    SELECT 1 FROM device WHERE replica_id = \(replica) AND (acked_epoch IS DISTINCT FROM \(cursor.epoch)
                        OR acked_seq <> \(Int64(cursor.seq)) OR COALESCE(last_seen_at, 0) < \(stale))
                    """, logger)
            }
            switch plan {
            case .empty(let page):
                return (.page(page), false)
            case .snapshot(let position):
                return (
                    .reset(try await reader.snapshotPage(for: principal, from: position, head: head, limit: limit)),
                    acknowledges
                )
            case .log(let after):
                let page = try await reader.page(for: principal, after: after, head: head, limit: limit, epoch: epoch)
                return (.page(page), acknowledges)
            }
        }
        if acknowledges, let cursor {
            try await write { connection, logger in
                try await connection.query(
                    """
                    UPDATE device SET acked_epoch = \(cursor.epoch), acked_seq = \(Int64(cursor.seq)),
                        last_seen_at = \(StoreSupport.nowMillis()) WHERE replica_id = \(replica)
                    """, logger: logger)
            }
        }
        return response
    }

    // MARK: Reading for tests, admin and integrity

    public func record(_ key: RecordKey) async throws -> ConciergeCore.Record? {
        try await read { connection, logger in
            try await PostgresReader(connection: connection, logger: logger).wholeRecords([key])[key]
        }
    }

    public func projection(for principal: Principal) async throws -> [ConciergeCore.Record] {
        try await projectionWithHead(for: principal).0
    }

    public func projectionWithHead(for principal: Principal) async throws -> ([ConciergeCore.Record], UInt64) {
        return try await read { connection, logger in
            let reader = PostgresReader(connection: connection, logger: logger)
            let head = try await reader.head()
            let keys = try await connection.query(
                "SELECT type, id FROM record WHERE audience && \(Array(principal.tags)) ORDER BY type, id",
                logger: logger
            ).collect().map { row in
                let (type, id) = try row.decode((String, String).self)
                return RecordKey(type: RecordType(type), id: RecordID(id))
            }
            return (try await reader.projected(keys, for: principal), head)
        }
    }

    /// The last log position committed (for the live fan-out's fallback poll).
    public func head() async throws -> UInt64 {
        return try await read { connection, logger in
            try await PostgresReader(connection: connection, logger: logger).head()
        }
    }

    public func compact(now: Int64, retentionMillis: Int64) async throws -> UInt64 {
        let epoch = self.epoch
        return try await write { connection, logger in
            let lowest = try await connection.one(
                """
                SELECT MIN(CASE WHEN acked_epoch = \(epoch) THEN acked_seq ELSE 0 END) FROM device
                WHERE revoked_at IS NULL AND COALESCE(last_seen_at, created_at) >= \(now - retentionMillis)
                """, Int64?.self, logger)
            let previous = try await Int64(PostgresReader(connection: connection, logger: logger).compactedThrough())
            // Never past a follower: it has yet to handle what lies after its position.
            let followers = try await connection.one(
                "SELECT MIN(CAST(value AS BIGINT)) FROM server_meta WHERE key LIKE 'follower:%'", Int64?.self, logger)
            // With no device seen within the window, keep the log: there is nobody to measure by.
            guard let devices = lowest else { return UInt64(previous) }
            let horizon = min(devices, followers ?? devices)
            guard horizon > previous else { return UInt64(previous) }
            try await connection.query("DELETE FROM change_log WHERE seq <= \(horizon)", logger: logger)
            try await connection.query("DELETE FROM change_audience WHERE seq <= \(horizon)", logger: logger)
            try await connection.query("DELETE FROM scope_event WHERE seq <= \(horizon)", logger: logger)
            try await connection.query(
                """
                INSERT INTO server_meta (key, value) VALUES ('compacted_through', \(String(horizon)))
                ON CONFLICT (key) DO UPDATE SET value = excluded.value
                """, logger: logger)
            return UInt64(horizon)
        }
    }

    public func follow(
        _ follower: String, limit: Int, _ handle: @Sendable @escaping ([LoggedChangeSet]) async throws -> Void
    ) async throws -> Int {
        let key = StoreSupport.followerKey(follower)
        // The follower's row stays locked while its batch is handled: another instance running the
        // same follower waits, then reads the position this one moved.
        return try await write { connection, logger in
            try await connection.query(
                """
                INSERT INTO server_meta (key, value)
                SELECT \(key), COALESCE((SELECT value FROM server_meta WHERE key = 'compacted_through'), '0')
                ON CONFLICT (key) DO NOTHING
                """, logger: logger)
            let position = try await connection.one(
                "SELECT CAST(value AS BIGINT) FROM server_meta WHERE key = \(key) FOR UPDATE", Int64.self, logger)
            let head = Int64(try await PostgresReader(connection: connection, logger: logger).head())
            var sets: [LoggedChangeSet] = []
            for try await (seq, data) in try await connection.query(
                """
                SELECT seq, change_set FROM change_log WHERE seq > \(position) AND seq <= \(head)
                ORDER BY seq LIMIT \(limit)
                """, logger: logger
            ).decode((Int64, Data).self) {
                sets.append(
                    LoggedChangeSet(
                        seq: UInt64(seq), changeSet: try RecordRows.stored(data, BinaryForm.changeSet(stored:))))
            }
            guard let last = sets.last else { return 0 }
            try await handle(sets)
            try await connection.query(
                "UPDATE server_meta SET value = \(String(last.seq)) WHERE key = \(key)", logger: logger)
            return sets.count
        }
    }

    public func followerPosition(_ follower: String) async throws -> UInt64? {
        let key = StoreSupport.followerKey(follower)
        return try await read { connection, logger in
            try await connection.query(
                "SELECT CAST(value AS BIGINT) FROM server_meta WHERE key = \(key)", logger: logger
            ).collect().first.map { UInt64(try $0.decode(Int64.self)) }
        }
    }

    public func acceptedSets(of replica: ReplicaID) async throws -> Set<ChangeSetID> {
        try await read { connection, logger in
            Set(
                try await connection.query(
                    """
                    SELECT set_seq FROM change_set_outcome
                    WHERE replica_id = \(replica.description) AND status = 'accepted'
                    """, logger: logger
                ).collect().map { ChangeSetID(replica: replica, seq: UInt64(bitPattern: try $0.decode(Int64.self))) })
        }
    }

    public func stats() async throws -> [String: Int] {
        try await read { connection, logger in
            var result: [String: Int] = [:]
            for table in [
                "provider", "principal", "device", "record", "record_field", "record_entry", "change_log",
                "change_audience", "scope_event",
            ] {
                result[table] = Int(
                    try await connection.one("SELECT COUNT(*) FROM \(unescaped: table)", Int64.self, logger))
            }
            for status in ["accepted", "rejected"] {
                result["\(status)_outcome"] = Int(
                    try await connection.one(
                        "SELECT COUNT(*) FROM change_set_outcome WHERE status = \(status)", Int64.self, logger))
            }
            return result
        }
    }
}

/// Reads of records, log pages and snapshots, inside a caller's transaction.
struct PostgresReader {
    let connection: PostgresConnection
    let logger: Logger

    /// The stored outcomes among `ids`.
    func outcomes(_ ids: [ChangeSetID]) async throws -> [ChangeSetID: StoredOutcome] {
        var stored: [ChangeSetID: StoredOutcome] = [:]
        guard !ids.isEmpty else { return stored }
        for row in try await connection.query(
            """
            SELECT o.replica_id, o.set_seq, o.content_hash, o.status, o.code, o.message, o.log_seq
            FROM change_set_outcome o
            JOIN unnest(\(ids.map(\.replica.description))::text[], \(ids.map { Int64(bitPattern: $0.seq) })::bigint[])
                AS k(replica_id, set_seq) ON o.replica_id = k.replica_id AND o.set_seq = k.set_seq
            """, logger: logger
        ).collect() {
            let (replica, seq, hash, status, code, message, logSeq) = try row.decode(
                (String, Int64, Data, String, String?, String?, Int64?).self)
            guard let replica = ReplicaID(replica) else { continue }
            stored[ChangeSetID(replica: replica, seq: UInt64(bitPattern: seq))] = StoredOutcome(
                hash: hash, status: status, code: code, message: message, logSeq: logSeq)
        }
        return stored
    }

    /// The last position committed. In commit order, every position up to it is visible.
    func head() async throws -> UInt64 {
        UInt64(try await connection.one("SELECT seq FROM log_head", Int64.self, logger))
    }

    func compactedThrough() async throws -> UInt64 {
        let rows = try await connection.query(
            "SELECT value FROM server_meta WHERE key = 'compacted_through'", logger: logger
        ).collect()
        return try rows.first.flatMap { UInt64(try $0.decode(String.self)) } ?? 0
    }

    /// The record rows (markers) and every field row of `keys`, two statements for any number.
    func markersAndFields(_ keys: [RecordKey]) async throws -> (
        markers: [RecordKey: (deleted: String?, redacted: String?)], fields: [RecordKey: [(field: String, state: Data)]]
    ) {
        let types = keys.map(\.type.rawValue)
        let ids = keys.map(\.id.rawValue)
        var markers: [RecordKey: (deleted: String?, redacted: String?)] = [:]
        for row in try await connection.query(
            """
            SELECT r.type, r.id, r.deleted, r.redacted FROM record r
            JOIN unnest(\(types)::text[], \(ids)::text[]) AS k(type, id) ON r.type = k.type AND r.id = k.id
            """, logger: logger
        ).collect() {
            let (type, id, deleted, redacted) = try row.decode((String, String, String?, String?).self)
            markers[RecordKey(type: RecordType(type), id: RecordID(id))] = (deleted, redacted)
        }
        var fields: [RecordKey: [(field: String, state: Data)]] = [:]
        guard !markers.isEmpty else { return (markers, fields) }
        for row in try await connection.query(
            """
            SELECT f.type, f.id, f.field, f.state FROM record_field f
            JOIN unnest(\(types)::text[], \(ids)::text[]) AS k(type, id) ON f.type = k.type AND f.id = k.id
            """, logger: logger
        ).collect() {
            let (type, id, field, state) = try row.decode((String, String, String, Data).self)
            fields[RecordKey(type: RecordType(type), id: RecordID(id)), default: []].append((field, state))
        }
        return (markers, fields)
    }

    /// Whole records, three statements for any number of keys; keys with no record are absent.
    /// - Parameter afterFields: for tests, runs between the field rows and the entry rows.
    func wholeRecords(_ keys: [RecordKey], afterFields: @escaping @Sendable () async throws -> Void = {}) async throws
        -> [RecordKey: Record]
    {
        var needs: [RecordKey: RecordRows.Need] = [:]
        for key in keys { needs[key] = .all }
        return try await records(keys, needs: needs, afterFields: afterFields)
    }

    /// Many records at once, each with what `needs` asks of it (every field in any case; all
    /// entries where a need says everything), in a handful of statements; keys with no record
    /// are absent. The statements must share one snapshot (a repeatable-read transaction, or one
    /// that holds the log's head row, so that no push commits in between): a record's entry rows
    /// without the field row their push wrote with them do not make a record.
    /// - Parameter afterFields: for tests, runs between the field rows and the entry rows.
    func records(
        _ keys: [RecordKey], needs: [RecordKey: RecordRows.Need],
        afterFields: (@Sendable () async throws -> Void)? = nil
    ) async throws -> [RecordKey: Record] {
        guard !keys.isEmpty else { return [:] }
        let (markers, fields) = try await markersAndFields(keys)
        guard !markers.isEmpty else { return [:] }
        try await afterFields?()
        let entries = try await entryRows(keys.filter { markers[$0] != nil }, needs: needs)
        var result: [RecordKey: Record] = [:]
        for (key, marker) in markers {
            result[key] = try RecordRows.assemble(
                key, deleted: marker.deleted, redacted: marker.redacted, fields: fields[key] ?? [],
                entries: entries[key] ?? [])
        }
        return result
    }

    /// The entry rows `needs` asks for of existing records: all of them where a need says
    /// everything; otherwise those the sets name, and the kinds of entries a policy reads whole.
    func entryRows(_ keys: [RecordKey], needs: [RecordKey: RecordRows.Need]) async throws -> [RecordKey: [(
        field: String, state: Data
    )]] {
        try await entrySlots(keys, needs: needs).mapValues { slots in slots.map { ($0.key.field, $0.value) } }
    }

    /// The entry rows `needs` asks for (see ``entryRows(_:needs:)``), by field and entry id.
    func entrySlots(_ keys: [RecordKey], needs: [RecordKey: RecordRows.Need]) async throws -> [RecordKey: [StoredRows
        .EntrySlot: Data]]
    {
        var whole: [RecordKey] = []
        var wanted: [(type: String, id: String, field: String, entry: String)] = []
        var kinds: [(type: String, id: String, field: String, kind: String)] = []
        for key in keys {
            guard let need = needs[key] else { continue }
            if need.everything {
                whole.append(key)
                continue
            }
            for (field, entries) in need.entries {
                for entry in entries { wanted.append((key.type.rawValue, key.id.rawValue, field, entry.rawValue)) }
            }
            for (field, fieldKinds) in need.kinds {
                for kind in fieldKinds { kinds.append((key.type.rawValue, key.id.rawValue, field, kind)) }
            }
        }
        var entries: [RecordKey: [StoredRows.EntrySlot: Data]] = [:]
        func collect(_ rows: [PostgresRow]) throws {
            for row in rows {
                let (type, id, field, entry, state) = try row.decode((String, String, String, String, Data).self)
                entries[RecordKey(type: RecordType(type), id: RecordID(id)), default: [:]][
                    StoredRows.EntrySlot(field: field, entry: entry)] = state
            }
        }
        if !whole.isEmpty {
            try collect(
                try await connection.query(
                    """
                    SELECT e.type, e.id, e.field, e.entry_id, e.state FROM record_entry e
                    JOIN unnest(\(whole.map(\.type.rawValue))::text[], \(whole.map(\.id.rawValue))::text[])
                        AS k(type, id) ON e.type = k.type AND e.id = k.id
                    """, logger: logger
                ).collect())
        }
        if !wanted.isEmpty {
            try collect(
                try await connection.query(
                    """
                    SELECT e.type, e.id, e.field, e.entry_id, e.state FROM record_entry e
                    JOIN unnest(\(wanted.map(\.type))::text[], \(wanted.map(\.id))::text[],
                        \(wanted.map(\.field))::text[], \(wanted.map(\.entry))::text[]) AS k(type, id, field, entry_id)
                    ON e.type = k.type AND e.id = k.id AND e.field = k.field AND e.entry_id = k.entry_id
                    """, logger: logger
                ).collect())
        }
        if !kinds.isEmpty {
            try collect(
                try await connection.query(
                    """
                    SELECT e.type, e.id, e.field, e.entry_id, e.state FROM record_entry e
                    JOIN unnest(\(kinds.map(\.type))::text[], \(kinds.map(\.id))::text[],
                        \(kinds.map(\.field))::text[], \(kinds.map(\.kind))::text[]) AS k(type, id, field, kind)
                    ON e.type = k.type AND e.id = k.id AND e.field = k.field AND e.kind = k.kind
                    """, logger: logger
                ).collect())
        }
        return entries
    }

    /// The records as stored, projected for `principal`, in the order of `keys`.
    func projected(_ keys: [RecordKey], for principal: Principal) async throws -> [Record] {
        let records = try await wholeRecords(keys)
        return keys.compactMap { records[$0].map { Projection.record($0, for: principal) } }
    }

    func owner(of key: RecordKey) async throws -> Principal? {
        guard DomainRules.standard.isOwnedByItsID(key) else { return nil }
        return try await PostgresServerStore.principal(PrincipalID(key.id.rawValue), connection, logger)
    }

    /// The caller's projection of the log after `start` (see ``ServerStore/pull``).
    /// A page of the log for `principal` after `start` (``PullAssembly/logPage(_:_:for:head:limit:epoch:rules:)``).
    func page(for principal: Principal, after start: UInt64, head: UInt64, limit: Int, epoch: String) async throws
        -> PullPage
    {
        let tags = Array(principal.tags)
        let from = Int64(start)
        var rows = PullAssembly.LogRows()
        rows.seqs = try await connection.query(
            """
            SELECT seq FROM change_audience WHERE tag = ANY(\(tags)) AND seq > \(from) AND seq <= \(Int64(head))
            UNION SELECT seq FROM scope_event WHERE principal_id = \(principal.id.rawValue) AND seq > \(from)
                AND seq <= \(Int64(head))
            ORDER BY seq LIMIT \(limit + 1)
            """, logger: logger
        ).collect().map { try $0.decode(Int64.self) }
        var lookups = PullAssembly.Lookups()
        if let last = PullAssembly.page(of: rows.seqs, limit: limit).seqs.last {
            for row in try await connection.query(
                """
                SELECT DISTINCT seq, type, id FROM change_audience
                WHERE tag = ANY(\(tags)) AND seq > \(from) AND seq <= \(last)
                """, logger: logger
            ).collect() {
                let (seq, type, id) = try row.decode((Int64, String, String).self)
                rows.visible[seq, default: []].insert(RecordKey(type: RecordType(type), id: RecordID(id)))
            }
            for row in try await connection.query(
                """
                SELECT seq, kind, type, id FROM scope_event
                WHERE principal_id = \(principal.id.rawValue) AND seq > \(from) AND seq <= \(last)
                ORDER BY seq, kind, type, id
                """, logger: logger
            ).collect() {
                let (seq, kind, type, id) = try row.decode((Int64, String, String, String).self)
                rows.scope[seq, default: []].append((kind, RecordKey(type: RecordType(type), id: RecordID(id))))
            }
            for row in try await connection.query(
                "SELECT seq, change_set FROM change_log WHERE seq = ANY(\(Array(rows.visible.keys)))", logger: logger
            ).collect() {
                let (seq, data) = try row.decode((Int64, Data).self)
                rows.sets[seq] = try RecordRows.stored(data, BinaryForm.changeSet(stored:))
            }
            let entered = Array(PullAssembly.entered(rows))
            if !entered.isEmpty {
                lookups.records = try await wholeRecords(entered)
                for key in lookups.records.keys { lookups.owners[key] = try await owner(of: key) }
            }
            for erased in PullAssembly.erased(rows) {
                lookups.erasedKinds[erased] = try await connection.query(
                    """
                    SELECT kind FROM record_entry WHERE type = \(erased.key.type.rawValue)
                        AND id = \(erased.key.id.rawValue) AND entry_id = \(erased.entry.rawValue)
                    """, logger: logger
                ).collect().first?.decode(String.self)
            }
        }
        return PullAssembly.logPage(rows, lookups, for: principal, head: head, limit: limit, epoch: epoch)
    }

    /// One page of a paged reset snapshot (see `SQLiteServerStore.snapshotPage`): records as their
    /// current images where the principal may see all of them, read from their rows otherwise.
    func snapshotPage(for principal: Principal, from position: SnapshotPosition, head: UInt64, limit: Int)
        async throws -> ResetSnapshot
    {
        let tags = Array(principal.tags)
        let seesInternal = Projection.seesInternal(principal)
        let continues = position.last != nil
        var rows: [(String, String, Int64, ByteBuffer?)] = []
        if continues && head > position.seen {
            rows += try await connection.query(
                """
                SELECT r.type, r.id, r.last_seq, i.image FROM record r
                LEFT JOIN record_image i ON i.type = r.type AND i.id = r.id AND i.seq = r.last_seq
                    AND (NOT i.internal OR \(seesInternal))
                WHERE r.last_seq > \(Int64(position.seen)) AND r.audience && \(tags)
                """, logger: logger
            ).collect().map { try $0.decode((String, String, Int64, ByteBuffer?).self) }
        }
        let changed = rows.count
        let last = position.last ?? (Int64.max, "", "")
        rows += try await connection.query(
            """
            SELECT r.type, r.id, r.last_seq, i.image FROM record r
            LEFT JOIN record_image i ON i.type = r.type AND i.id = r.id AND i.seq = r.last_seq
                AND (NOT i.internal OR \(seesInternal))
            WHERE r.last_seq <= \(min(Int64(position.start), last.seq))
                AND (r.last_seq, r.type, r.id) < (\(last.seq), \(last.type), \(last.id)) AND r.audience && \(tags)
            ORDER BY r.last_seq DESC, r.type DESC, r.id DESC LIMIT \(limit + 1)
            """, logger: logger
        ).collect().map { try $0.decode((String, String, Int64, ByteBuffer?).self) }
        let (images, keys, next) = PullAssembly.snapshotPage(
            rows.map { type, id, lastSeq, image in
                PullAssembly.SnapshotRow(
                    key: RecordKey(type: RecordType(type), id: RecordID(id)), lastSeq: lastSeq,
                    image: image.map { Array($0.readableBytesView) })
            }, changed: changed, position: position, head: head, limit: limit)
        return ResetSnapshot(
            records: try await projected(keys, for: principal), images: images,
            cursor: Cursor(epoch: position.epoch, seq: position.start), reason: position.reason,
            continues: continues, more: next?.token)
    }
}
