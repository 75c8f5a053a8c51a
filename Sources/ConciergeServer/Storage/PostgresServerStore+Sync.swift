import ConciergeCore
import Foundation
import Logging
import PostgresNIO

extension PostgresServerStore {
    // MARK: Push

    public func push(_ sets: [ChangeSet], from caller: Caller, serverMillis: UInt64, policy: PushPolicy)
        async throws -> (outcomes: [PushOutcome], counts: PushCounts)
    {
        let epoch = self.epoch
        let hooks = self.hooks
        let instance = self.instance
        // Encoding and hashing are pure work: done before the head row is taken.
        let encoded = sets.map(PushSteps.EncodedSet.init)
        return try await write { connection, logger in
            var push = try await PostgresPush(
                connection: connection, logger: logger, epoch: epoch, ordering: hooks.ordering)
            push.notifies = hooks.notifies
            push.instance = instance
            var outcomes: [PushOutcome] = []
            for set in encoded {
                let outcome = try await push.push(set, from: caller, serverMillis: serverMillis, policy: policy)
                switch outcome.status {
                case .accepted: push.counts.accepted += 1
                case .duplicate: push.counts.duplicates += 1
                case .rejected: push.counts.rejected[outcome.error!.code, default: 0] += 1
                }
                outcomes.append(outcome)
            }
            try await push.finish(caller: caller)
            try await hooks.beforeCommit?(outcomes)
            return (outcomes, push.counts)
        }
    }

    // MARK: Pull

    public func pull(for caller: Caller, cursor: ConciergeCore.Cursor?, limit: Int, snapshot token: String?)
        async throws -> PullResponse
    {
        let epoch = self.epoch
        let ordering = hooks.ordering
        let principal = caller.principal
        let replica = caller.replica.description
        let stale = StoreSupport.nowMillis() - 3_600_000
        let (response, acknowledges): (PullResponse, Bool) = try await read { connection, logger in
            let reader = PostgresReader(connection: connection, logger: logger)
            let head = try await reader.head(ordering)
            if let token {
                guard let position = SnapshotPosition(token: token) else {
                    throw SyncError(.invalidCursor, "the snapshot token is malformed")
                }
                if position.epoch == epoch {
                    return (
                        .reset(try await reader.snapshotPage(for: principal, from: position, head: head, limit: limit)),
                        false
                    )
                }
            }
            guard let cursor, cursor.epoch == epoch else {
                if cursor == nil && head == 0 {
                    return (.page(PullPage(events: [], cursor: Cursor(epoch: epoch, seq: 0), hasMore: false)), false)
                }
                let reason = cursor == nil ? "initial" : "epochChanged"
                let start = SnapshotPosition(epoch: epoch, reason: reason, start: head, seen: head)
                return (
                    .reset(try await reader.snapshotPage(for: principal, from: start, head: head, limit: limit)), false
                )
            }
            guard cursor.seq <= head else {
                throw SyncError(.invalidCursor, "the cursor is ahead of this server's log")
            }
            let compacted = try await reader.compactedThrough()
            // Record the acknowledged cursor only when it moved or the last contact is an hour old.
            let acknowledges = try await connection.exists(
                """
                SELECT 1 FROM device WHERE replica_id = \(replica) AND (acked_epoch IS DISTINCT FROM \(cursor.epoch)
                    OR acked_seq <> \(Int64(cursor.seq)) OR COALESCE(last_seen_at, 0) < \(stale))
                """, logger)
            if cursor.seq < compacted {
                let start = SnapshotPosition(epoch: epoch, reason: "compacted", start: head, seen: head)
                return (
                    .reset(try await reader.snapshotPage(for: principal, from: start, head: head, limit: limit)),
                    acknowledges
                )
            }
            let page = try await reader.page(for: principal, after: cursor.seq, head: head, limit: limit, epoch: epoch)
            return (.page(page), acknowledges)
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
        let ordering = hooks.ordering
        return try await read { connection, logger in
            let reader = PostgresReader(connection: connection, logger: logger)
            let head = try await reader.head(ordering)
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
        let ordering = hooks.ordering
        return try await read { connection, logger in
            try await PostgresReader(connection: connection, logger: logger).head(ordering)
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
            // With no device seen within the window, keep the log: there is nobody to measure by.
            guard let horizon = lowest, horizon > previous else { return UInt64(previous) }
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
                "scope_event",
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

/// One push batch inside its transaction: the head row held, positions assigned in order.
struct PostgresPush {
    let connection: PostgresConnection
    let logger: Logger
    let epoch: String
    let ordering: PostgresServerStore.LogOrdering
    var head: Int64
    var counts = PushCounts()
    var notifies = true
    /// The store's instance id, on its notices.
    var instance = ""

    init(connection: PostgresConnection, logger: Logger, epoch: String, ordering: PostgresServerStore.LogOrdering)
        async throws
    {
        self.connection = connection
        self.logger = logger
        self.epoch = epoch
        self.ordering = ordering
        switch ordering {
        case .commitOrdered:
            // Held until commit: pushes apply one at a time, and positions commit in order.
            head = try await connection.one("SELECT seq FROM log_head FOR UPDATE", Int64.self, logger)
        case .unordered:
            head = 0
        }
    }

    var reader: PostgresReader { PostgresReader(connection: connection, logger: logger) }

    mutating func nextPosition() async throws -> Int64 {
        switch ordering {
        case .commitOrdered:
            head += 1
            return head
        case .unordered:
            head = try await connection.one("SELECT nextval('change_log_unordered')", Int64.self, logger)
            return head
        }
    }

    /// Moves the head row, notes the device's contact, and tells the other instances (the notice
    /// is delivered on commit, and only then).
    mutating func finish(caller: Caller) async throws {
        if ordering == .commitOrdered, counts.touched.head > 0 {
            try await connection.query("UPDATE log_head SET seq = \(head)", logger: logger)
        }
        try await connection.query(
            "UPDATE device SET last_seen_at = \(StoreSupport.nowMillis()) WHERE replica_id = \(caller.replica.description)",
            logger: logger)
        if notifies, counts.touched.head > 0 {
            try await connection.query(
                "SELECT pg_notify(\(PostgresServerStore.channel), \(FanOutNotice(counts.touched, from: instance).payload))",
                logger: logger)
        }
    }

    mutating func push(
        _ encoded: PushSteps.EncodedSet, from caller: Caller, serverMillis: UInt64, policy: PushPolicy
    ) async throws -> PushOutcome {
        let set = encoded.set
        if let refused = PushSteps.checkSender(set, caller) { return refused }
        let replica = set.id.replica.description
        let setSeq = Int64(bitPattern: set.id.seq)
        if let stored = try await connection.query(
            """
            SELECT content_hash, status, code, message, log_seq FROM change_set_outcome
            WHERE replica_id = \(replica) AND set_seq = \(setSeq)
            """, logger: logger
        ).collect().first {
            let (hash, status, code, message, logSeq) = try stored.decode((Data, String, String?, String?, Int64?).self)
            return PushSteps.replay(
                encoded, storedHash: hash, status: status, code: code, message: message, logSeq: logSeq, epoch: epoch)
        }
        func reject(_ error: SyncError) async throws -> PushOutcome {
            if !error.isRetryable {
                try await connection.query(
                    """
                    INSERT INTO change_set_outcome (replica_id, set_seq, content_hash, status, code, message)
                    VALUES (\(replica), \(setSeq), \(encoded.hash), 'rejected', \(error.code.rawValue), \(error.message))
                    """, logger: logger)
            }
            return .rejected(set.id, error)
        }
        let upgraded: ChangeSet
        do {
            upgraded = try PushSteps.prepare(set, serverMillis: serverMillis, policy: policy)
        } catch {
            return try await reject(error)
        }
        var before: [RecordKey: Record] = [:]
        var after: [RecordKey: Record] = [:]
        var owners: [RecordKey: Principal] = [:]
        for key in upgraded.keys {
            let changes = PushSteps.changes(of: upgraded, to: key)
            let stored = try await reader.load(key, need: RecordRows.Need(changes))
            before[key] = stored
            do {
                after[key] = try PushSteps.apply(changes, to: stored, key: key, by: upgraded.author)
            } catch {
                return try await reject(error)
            }
            if PushSteps.hasOwner(key),
                let owner = try await PostgresServerStore.principal(PrincipalID(key.id.rawValue), connection, logger)
            {
                owners[key] = owner
            }
        }
        do {
            try Authorizer().authorize(
                upgraded, by: caller.principal, before: before, after: after, owner: { owners[$0] })
        } catch {
            return try await reject(error)
        }
        let seq = try await commit(
            upgraded, bytes: upgraded == set ? encoded.bytes : upgraded.canonicalJSON, before: before, after: after,
            owners: owners)
        try await connection.query(
            """
            INSERT INTO change_set_outcome (replica_id, set_seq, content_hash, status, log_seq)
            VALUES (\(replica), \(setSeq), \(encoded.hash), 'accepted', \(seq))
            """, logger: logger)
        try await openFollowUps(after: upgraded, before: before, after: after)
        return .accepted(set.id, at: Cursor(epoch: epoch, seq: UInt64(seq)))
    }

    /// Appends an accepted set to the log, then writes the records it changed, who may read them,
    /// and the enter and leave events of principals whose scope it moved.
    mutating func commit(
        _ set: ChangeSet, bytes: [UInt8], before: [RecordKey: Record], after: [RecordKey: Record],
        owners: [RecordKey: Principal]
    ) async throws -> Int64 {
        let seq = try await nextPosition()
        try await connection.query(
            """
            INSERT INTO change_log (seq, replica_id, set_seq, change_set, committed_at)
            VALUES (\(seq), \(set.id.replica.description), \(Int64(bitPattern: set.id.seq)), \(Data(bytes)),
                \(StoreSupport.nowMillis()))
            """, logger: logger)
        for key in set.keys {
            let changes = PushSteps.changes(of: set, to: key)
            let oldAudience = before[key].map { Audience.of($0, owner: owners[key]) }
            let audience = Audience.of(after[key]!, owner: owners[key])
            try await save(RecordRows.writes(after[key]!, touched: changes, audience: audience), seq: seq)
            counts.touched.tags.formUnion(audience)
            counts.touched.head = UInt64(seq)
            try await connection.query(
                """
                INSERT INTO change_audience (tag, seq, type, id)
                SELECT unnest(\(Array(audience))::text[]), \(seq), \(key.type.rawValue), \(key.id.rawValue)
                ON CONFLICT DO NOTHING
                """, logger: logger)
            if let oldAudience, oldAudience != audience {
                let was = try await principals(reading: oldAudience)
                let now = try await principals(reading: audience)
                let (entered, left) = (now.subtracting(was), was.subtracting(now))
                for (principals, kind) in [(entered, "enter"), (left, "leave")] where !principals.isEmpty {
                    try await connection.query(
                        """
                        INSERT INTO scope_event (principal_id, seq, kind, type, id)
                        SELECT unnest(\(Array(principals))::text[]), \(seq), \(kind), \(key.type.rawValue), \(key.id.rawValue)
                        ON CONFLICT DO NOTHING
                        """, logger: logger)
                }
                counts.enters += entered.count
                counts.leaves += left.count
                counts.touched.principals.formUnion(entered)
                counts.touched.principals.formUnion(left)
            }
        }
        return seq
    }

    func principals(reading tags: Set<String>) async throws -> Set<String> {
        guard !tags.isEmpty else { return [] }
        return Set(
            try await connection.query(
                "SELECT DISTINCT principal_id FROM principal_tag WHERE tag = ANY(\(Array(tags)))", logger: logger
            ).collect().map { try $0.decode(String.self) })
    }

    /// Writes a record's rows: the record row, then its entry and field rows, each kind in one
    /// multi-row upsert.
    func save(_ writes: RecordRows.Writes, seq: Int64) async throws {
        try await connection.query(
            """
            INSERT INTO record (type, id, deleted, redacted, audience, last_seq)
            VALUES (\(writes.type), \(writes.id), \(writes.deleted), \(writes.redacted), \(writes.audience), \(seq))
            ON CONFLICT (type, id) DO UPDATE SET deleted = excluded.deleted, redacted = excluded.redacted,
                audience = excluded.audience, last_seq = excluded.last_seq
            """, logger: logger)
        if !writes.entries.isEmpty {
            try await connection.query(
                """
                INSERT INTO record_entry (type, id, field, entry_id, kind, state)
                SELECT \(writes.type), \(writes.id), * FROM unnest(\(writes.entries.map(\.field))::text[],
                    \(writes.entries.map(\.entryID))::text[], \(writes.entries.map(\.kind))::text[],
                    \(writes.entries.map { ByteBuffer(data: $0.state) })::bytea[])
                ON CONFLICT (type, id, field, entry_id) DO UPDATE SET kind = excluded.kind, state = excluded.state
                """, logger: logger)
        }
        if !writes.fields.isEmpty {
            try await connection.query(
                """
                INSERT INTO record_field (type, id, field, state)
                SELECT \(writes.type), \(writes.id), * FROM unnest(\(writes.fields.map(\.name))::text[],
                    \(writes.fields.map { ByteBuffer(data: $0.state) })::bytea[])
                ON CONFLICT (type, id, field) DO UPDATE SET state = excluded.state
                """, logger: logger)
        }
    }

    /// Opens the follow-up of each closed case that received a customer message in `set`.
    mutating func openFollowUps(after set: ChangeSet, before: [RecordKey: Record], after: [RecordKey: Record])
        async throws
    {
        for trigger in PushSteps.followUpTriggers(of: set, before: before, after: after) {
            let stored = try await reader.wholeRecords([trigger.followUp, trigger.closed])
            guard stored[trigger.followUp] == nil, let whole = stored[trigger.closed] else { continue }
            var meta: [String: String] = [:]
            for row in try await connection.query(
                "SELECT key, value FROM server_meta WHERE key = ANY(\(ServerIdentity.metaKeys)) FOR UPDATE",
                logger: logger
            ).collect() {
                let (key, value) = try row.decode((String, String).self)
                meta[key] = value
            }
            var server = ServerIdentity(meta: meta)
            let followUpSet = PushSteps.followUpSet(trigger, whole: whole, server: &server)
            var newRecords: [RecordKey: Record] = [trigger.closed: whole]
            try followUpSet.apply(to: &newRecords)
            for (key, value) in server.meta {
                try await connection.query(
                    """
                    INSERT INTO server_meta (key, value) VALUES (\(key), \(value))
                    ON CONFLICT (key) DO UPDATE SET value = excluded.value
                    """, logger: logger)
            }
            _ = try await commit(
                followUpSet, bytes: followUpSet.canonicalJSON, before: [trigger.closed: whole], after: newRecords,
                owners: [:])
        }
    }
}

/// Reads of records, log pages and snapshots, inside a caller's transaction.
struct PostgresReader {
    let connection: PostgresConnection
    let logger: Logger

    /// The last position committed. In commit order, every position up to it is visible.
    func head(_ ordering: PostgresServerStore.LogOrdering) async throws -> UInt64 {
        switch ordering {
        case .commitOrdered:
            return UInt64(try await connection.one("SELECT seq FROM log_head", Int64.self, logger))
        case .unordered:
            // The naive reader: the largest position it can see.
            return UInt64(try await connection.one("SELECT COALESCE(MAX(seq), 0) FROM change_log", Int64.self, logger))
        }
    }

    func compactedThrough() async throws -> UInt64 {
        let rows = try await connection.query(
            "SELECT value FROM server_meta WHERE key = 'compacted_through'", logger: logger
        ).collect()
        return try rows.first.flatMap { UInt64(try $0.decode(String.self)) } ?? 0
    }

    /// Loads what `need` asks of a record; `nil` when the record does not exist.
    func load(_ key: RecordKey, need: RecordRows.Need) async throws -> Record? {
        if need.everything { return try await wholeRecords([key])[key] }
        let type = key.type.rawValue
        let id = key.id.rawValue
        guard
            let marker = try await connection.query(
                "SELECT deleted, redacted FROM record WHERE type = \(type) AND id = \(id)", logger: logger
            ).collect().first
        else { return nil }
        let (deleted, redacted) = try marker.decode((String?, String?).self)
        let fields = try await connection.query(
            "SELECT field, state FROM record_field WHERE type = \(type) AND id = \(id) AND field = ANY(\(Array(need.fields)))",
            logger: logger
        ).collect().map { try $0.decode((String, Data).self) }
        var entries: [(String, Data)] = []
        for (field, ids) in need.entries {
            entries += try await connection.query(
                """
                SELECT field, state FROM record_entry
                WHERE type = \(type) AND id = \(id) AND field = \(field) AND entry_id = ANY(\(ids.map(\.rawValue)))
                """, logger: logger
            ).collect().map { try $0.decode((String, Data).self) }
        }
        if need.statusChanges && key.type == .serviceCase {
            entries += try await connection.query(
                """
                SELECT field, state FROM record_entry
                WHERE type = \(type) AND id = \(id) AND field = \(CaseFields.timeline) AND kind = \(EntryKind.statusChange)
                    AND NOT (entry_id = ANY(\((need.entries[CaseFields.timeline] ?? []).map(\.rawValue))))
                """, logger: logger
            ).collect().map { try $0.decode((String, Data).self) }
        }
        return try RecordRows.assemble(
            key, deleted: deleted, redacted: redacted, fields: fields.map { ($0.0, $0.1) },
            entries: entries.map { ($0.0, $0.1) })
    }

    /// Whole records, three statements for any number of keys; keys with no record are absent.
    func wholeRecords(_ keys: [RecordKey]) async throws -> [RecordKey: Record] {
        guard !keys.isEmpty else { return [:] }
        let types = keys.map(\.type.rawValue)
        let ids = keys.map(\.id.rawValue)
        var markers: [RecordKey: (String?, String?)] = [:]
        for row in try await connection.query(
            """
            SELECT r.type, r.id, r.deleted, r.redacted FROM record r
            JOIN unnest(\(types)::text[], \(ids)::text[]) AS k(type, id) ON r.type = k.type AND r.id = k.id
            """, logger: logger
        ).collect() {
            let (type, id, deleted, redacted) = try row.decode((String, String, String?, String?).self)
            markers[RecordKey(type: RecordType(type), id: RecordID(id))] = (deleted, redacted)
        }
        guard !markers.isEmpty else { return [:] }
        var fields: [RecordKey: [(field: String, state: Data)]] = [:]
        for row in try await connection.query(
            """
            SELECT f.type, f.id, f.field, f.state FROM record_field f
            JOIN unnest(\(types)::text[], \(ids)::text[]) AS k(type, id) ON f.type = k.type AND f.id = k.id
            """, logger: logger
        ).collect() {
            let (type, id, field, state) = try row.decode((String, String, String, Data).self)
            fields[RecordKey(type: RecordType(type), id: RecordID(id)), default: []].append((field, state))
        }
        var entries: [RecordKey: [(field: String, state: Data)]] = [:]
        for row in try await connection.query(
            """
            SELECT e.type, e.id, e.field, e.state FROM record_entry e
            JOIN unnest(\(types)::text[], \(ids)::text[]) AS k(type, id) ON e.type = k.type AND e.id = k.id
            """, logger: logger
        ).collect() {
            let (type, id, field, state) = try row.decode((String, String, String, Data).self)
            entries[RecordKey(type: RecordType(type), id: RecordID(id)), default: []].append((field, state))
        }
        var records: [RecordKey: Record] = [:]
        for (key, (deleted, redacted)) in markers {
            records[key] = try RecordRows.assemble(
                key, deleted: deleted, redacted: redacted, fields: fields[key] ?? [], entries: entries[key] ?? [])
        }
        return records
    }

    /// The records as stored, projected for `principal`, in the order of `keys`.
    func projected(_ keys: [RecordKey], for principal: Principal) async throws -> [Record] {
        let records = try await wholeRecords(keys)
        return keys.compactMap { records[$0].map { Projection.record($0, for: principal) } }
    }

    func owner(of key: RecordKey) async throws -> Principal? {
        guard PushSteps.hasOwner(key) else { return nil }
        return try await PostgresServerStore.principal(PrincipalID(key.id.rawValue), connection, logger)
    }

    /// The caller's projection of the log after `start` (see ``ServerStore/pull``).
    func page(for principal: Principal, after start: UInt64, head: UInt64, limit: Int, epoch: String) async throws
        -> PullPage
    {
        let tags = Array(principal.tags)
        let from = Int64(start)
        let seqs = try await connection.query(
            """
            SELECT seq FROM change_audience WHERE tag = ANY(\(tags)) AND seq > \(from) AND seq <= \(Int64(head))
            UNION SELECT seq FROM scope_event WHERE principal_id = \(principal.id.rawValue) AND seq > \(from)
                AND seq <= \(Int64(head))
            ORDER BY seq LIMIT \(limit + 1)
            """, logger: logger
        ).collect().map { try $0.decode(Int64.self) }
        let hasMore = seqs.count > limit
        let pageSeqs = Array(seqs.prefix(limit))
        guard let last = pageSeqs.last else {
            return PullPage(events: [], cursor: Cursor(epoch: epoch, seq: head), hasMore: false)
        }
        var visible: [Int64: Set<RecordKey>] = [:]
        for row in try await connection.query(
            """
            SELECT DISTINCT seq, type, id FROM change_audience
            WHERE tag = ANY(\(tags)) AND seq > \(from) AND seq <= \(last)
            """, logger: logger
        ).collect() {
            let (seq, type, id) = try row.decode((Int64, String, String).self)
            visible[seq, default: []].insert(RecordKey(type: RecordType(type), id: RecordID(id)))
        }
        var scope: [Int64: [(kind: String, key: RecordKey)]] = [:]
        for row in try await connection.query(
            """
            SELECT seq, kind, type, id FROM scope_event
            WHERE principal_id = \(principal.id.rawValue) AND seq > \(from) AND seq <= \(last)
            ORDER BY seq, kind, type, id
            """, logger: logger
        ).collect() {
            let (seq, kind, type, id) = try row.decode((Int64, String, String, String).self)
            scope[seq, default: []].append((kind, RecordKey(type: RecordType(type), id: RecordID(id))))
        }
        var payloads: [Int64: Data] = [:]
        for row in try await connection.query(
            "SELECT seq, change_set FROM change_log WHERE seq = ANY(\(Array(visible.keys)))", logger: logger
        ).collect() {
            let (seq, data) = try row.decode((Int64, Data).self)
            payloads[seq] = data
        }
        var events: [PullEvent] = []
        for seq in pageSeqs {
            var handled = Set<RecordKey>()
            for event in scope[seq] ?? [] {
                handled.insert(event.key)
                if event.kind == "leave" {
                    events.append(.leave(event.key))
                } else if let record = try await wholeRecords([event.key])[event.key],
                    !Audience.of(record, owner: try await owner(of: event.key)).isDisjoint(with: principal.tags)
                {
                    // The record's current projection; skipped when it has left the scope again since.
                    events.append(.enter(Projection.record(record, for: principal)))
                }
            }
            let keys = (visible[seq] ?? []).subtracting(handled)
            guard !keys.isEmpty, let data = payloads[seq] else { continue }
            let set = try RecordRows.decode(data, ChangeSet.init(value:))
            let internalEntries = try await internalEntries(erasedBy: set, keys: keys)
            let projected = Projection.changeSet(set, for: principal, keys: keys) { key, entry in
                internalEntries.contains(Pair(key: key, entry: entry))
            }
            if let projected { events.append(.changeSet(projected)) }
        }
        return PullPage(
            events: events, cursor: Cursor(epoch: epoch, seq: hasMore ? UInt64(last) : head), hasMore: hasMore)
    }

    struct Pair: Hashable {
        var key: RecordKey
        var entry: EntryID
    }

    /// The entries a set erases that are internal (read before projecting it for a customer).
    func internalEntries(erasedBy set: ChangeSet, keys: Set<RecordKey>) async throws -> Set<Pair> {
        var result = Set<Pair>()
        for change in set.changes where keys.contains(change.key) {
            guard case .redactEntry(_, let entry, _) = change.change else { continue }
            let kinds = try await connection.query(
                """
                SELECT kind FROM record_entry
                WHERE type = \(change.key.type.rawValue) AND id = \(change.key.id.rawValue) AND entry_id = \(entry.rawValue)
                """, logger: logger
            ).collect().map { try $0.decode(String.self) }
            if kinds.contains(where: EntryKind.internalKinds.contains) {
                result.insert(Pair(key: change.key, entry: entry))
            }
        }
        return result
    }

    /// One page of a paged reset snapshot (see `SQLiteServerStore.snapshotPage`).
    func snapshotPage(for principal: Principal, from position: SnapshotPosition, head: UInt64, limit: Int)
        async throws -> ResetSnapshot
    {
        let tags = Array(principal.tags)
        let continues = position.last != nil
        var keys: [RecordKey] = []
        if continues && head > position.seen {
            keys += try await connection.query(
                "SELECT type, id FROM record WHERE last_seq > \(Int64(position.seen)) AND audience && \(tags)",
                logger: logger
            ).collect().map { row in
                let (type, id) = try row.decode((String, String).self)
                return RecordKey(type: RecordType(type), id: RecordID(id))
            }
        }
        let last = position.last ?? (Int64.max, "", "")
        let rows = try await connection.query(
            """
            SELECT type, id, last_seq FROM record
            WHERE last_seq <= \(min(Int64(position.start), last.seq))
                AND (last_seq, type, id) < (\(last.seq), \(last.type), \(last.id)) AND audience && \(tags)
            ORDER BY last_seq DESC, type DESC, id DESC LIMIT \(limit + 1)
            """, logger: logger
        ).collect().map { try $0.decode((String, String, Int64).self) }
        var next: SnapshotPosition?
        for (index, row) in rows.enumerated() {
            guard index < limit else {
                let previous = rows[index - 1]
                next = position
                next!.seen = head
                next!.last = (previous.2, previous.0, previous.1)
                break
            }
            keys.append(RecordKey(type: RecordType(row.0), id: RecordID(row.1)))
        }
        return ResetSnapshot(
            records: try await projected(keys, for: principal),
            cursor: Cursor(epoch: position.epoch, seq: position.start), reason: position.reason,
            continues: continues, more: next?.token)
    }
}
