import ConciergeCore
import Foundation
import Logging
import PostgresNIO

/// A group push's reads and writes on PostgreSQL, inside the group's one transaction: the head row
/// held, positions assigned in order.
///
/// Round trips, not rows, bound a push on PostgreSQL, so ``GroupPush`` reads what the group needs
/// in a few statements before its first set, and the rows of the accepted sets are written with
/// one multi-row statement per table: in the background once rows of ``writeBehindSets`` sets are
/// pending, while the group's next batches merge, and the rest at its end. Anything read from the
/// database after the group's first write (a follow-up case) is read after a flush.
struct PostgresPushStore: PushStore {
    let connection: PostgresConnection
    let logger: Logger
    var head: Int64
    /// Rows being written while the next sets are merged (see ``flushBehind(_:)``).
    var writing: Task<Void, any Error>?
    var writeBehindSets = Self.writeBehindSets

    init(connection: PostgresConnection, logger: Logger) async throws {
        self.connection = connection
        self.logger = logger
        // Held until commit: pushes apply one at a time, and positions commit in order.
        head = try await connection.one("SELECT seq FROM log_head FOR UPDATE", Int64.self, logger)
    }

    var reader: PostgresReader { PostgresReader(connection: connection, logger: logger) }

    static func audienceText(_ tags: [String]) -> String { PendingRows.arrayLiteral(tags) }

    mutating func outcomes(_ ids: [ChangeSetID]) async throws -> [ChangeSetID: StoredOutcome] {
        guard !ids.isEmpty else { return [:] }
        try await settle()
        return try await reader.outcomes(ids)
    }

    /// Groups run one after the other, each committed before the next reads: none is uncommitted.
    func uncommitted(_ key: RecordKey) -> Record?? { nil }

    mutating func records(_ keys: [RecordKey], needs: [RecordKey: RecordRows.Need], pending: inout PendingRows)
        async throws -> [RecordKey: Record]
    {
        try await flush(&pending)
        return try await reader.records(keys, needs: needs)
    }

    mutating func entryRows(_ keys: [RecordKey], needs: [RecordKey: RecordRows.Need], pending: inout PendingRows)
        async throws -> [RecordKey: [(field: String, state: Data)]]
    {
        try await flush(&pending)
        return try await reader.entryRows(keys, needs: needs)
    }

    mutating func wholeRecords(_ keys: [RecordKey], pending: inout PendingRows) async throws -> [RecordKey: Record] {
        try await flush(&pending)
        return try await reader.wholeRecords(keys)
    }

    /// Locks the identity's rows until the commit: one follow-up set at a time across instances.
    mutating func serverIdentity(pending: inout PendingRows) async throws -> ServerIdentity {
        try await flush(&pending)
        var meta: [String: String] = [:]
        for row in try await connection.query(
            "SELECT key, value FROM server_meta WHERE key = ANY(\(ServerIdentity.metaKeys)) FOR UPDATE",
            logger: logger
        ).collect() {
            let (key, value) = try row.decode((String, String).self)
            meta[key] = value
        }
        return ServerIdentity(meta: meta)
    }

    mutating func principal(_ id: PrincipalID) async throws -> Principal? {
        try await settle()
        return try await PostgresServerStore.principal(id, connection, logger)
    }

    mutating func principals(reading tags: Set<String>) async throws -> Set<String> {
        guard !tags.isEmpty else { return [] }
        try await settle()
        return Set(
            try await connection.query(
                "SELECT DISTINCT principal_id FROM principal_tag WHERE tag = ANY(\(Array(tags)))", logger: logger
            ).collect().map { try $0.decode(String.self) })
    }

    mutating func nextPosition() async throws -> Int64 {
        head += 1
        return head
    }

    /// Takes `cache` for this group's reads, after forgetting what it holds of records another
    /// instance wrote since this instance's last commit (the head row is held: nobody writes
    /// meanwhile).
    func use(_ cache: RecordCache) async throws {
        try await Self.refresh(cache, head: head, connection, logger)
    }

    /// Forgets what `cache` holds of records written after the head it knows, up to `head`, and
    /// then knows `head`. Returns whether another instance wrote since (what this instance knew
    /// was older than `head`).
    @discardableResult
    static func refresh(_ cache: RecordCache, head: Int64, _ connection: PostgresConnection, _ logger: Logger)
        async throws -> Bool
    {
        let wrote: Bool
        if let known = cache.head, known <= head {
            wrote = known < head
            if wrote {
                let changed = try await connection.query(
                    "SELECT type, id FROM record WHERE last_seq > \(known)", logger: logger
                ).collect().map { row in
                    let (type, id) = try row.decode((String, String).self)
                    return RecordKey(type: RecordType(type), id: RecordID(id))
                }
                cache.remove(changed)
            }
        } else {
            wrote = cache.head != nil
            cache.removeAll()
        }
        cache.head = head
        return wrote
    }

    /// Writes what is pending, moves the head row, notes the devices' contact, and tells the other
    /// instances (the notice is delivered on commit, and only then).
    mutating func finish(_ pending: inout PendingRows, touched: Touched, callers: [Caller], notice: String?)
        async throws
    {
        try await flush(&pending)
        try await Self.close(
            head: touched.head > 0 ? head : nil, callers: callers,
            notice: touched.head > 0 ? notice : nil, connection, logger)
    }

    /// A group's last statements: the head row moved to `head` (if given), the devices' last
    /// contact, the notice to the other instances (if given; delivered on commit, and only then).
    static func close(
        head: Int64?, callers: [Caller], notice: String?, _ connection: PostgresConnection, _ logger: Logger
    ) async throws {
        if let head {
            try await connection.query("UPDATE log_head SET seq = \(head)", logger: logger)
        }
        try await connection.query(
            """
            UPDATE device SET last_seen_at = \(StoreSupport.nowMillis())
            WHERE replica_id = ANY(\(Array(Set(callers.map(\.replica.description)))))
            """, logger: logger)
        if let notice {
            try await connection.query(
                "SELECT pg_notify(\(PostgresServerStore.channel), \(notice))", logger: logger)
        }
    }

    /// Pending rows of at least this many sets start their write while the group's next batch is
    /// merged: PostgreSQL writes while the server works, instead of one waiting for the other.
    static let writeBehindSets = 250

    /// Starts writing the pending rows when there are enough of them, without waiting for the
    /// write; every later statement of the group waits for it first (``settle()``).
    mutating func flushBehind(_ pending: inout PendingRows) async throws {
        guard pending.log.count >= writeBehindSets else { return }
        try await settle()
        let rows = pending
        pending = PendingRows()
        let (connection, logger) = (connection, logger)
        writing = Task { try await Self.write(rows, connection, logger) }
    }

    /// Waits for the rows being written behind: before any other statement of the group, so that
    /// its statements run one after the other and in order.
    mutating func settle() async throws {
        guard let task = writing else { return }
        writing = nil
        try await task.value
    }

    /// Waits for a write behind to end, whatever its outcome: before a failed group's rollback,
    /// which must not overtake the statements of its transaction.
    mutating func abandon() async {
        try? await settle()
    }

    /// Writes the pending rows, one multi-row statement per table.
    mutating func flush(_ pending: inout PendingRows) async throws {
        try await settle()
        guard !pending.isEmpty else { return }
        let rows = pending
        pending = PendingRows()
        try await Self.write(rows, connection, logger)
    }

    /// Writes `rows`, one multi-row statement per table.
    static func write(_ rows: PendingRows, _ connection: PostgresConnection, _ logger: Logger) async throws {
        try await write(statements(rows), connection, logger)
    }

    /// Runs the statements that write a group's rows, in order.
    static func write(_ statements: [PostgresQuery], _ connection: PostgresConnection, _ logger: Logger) async throws {
        for statement in statements { try await connection.query(statement, logger: logger) }
    }

    /// The statements that write `rows`, one multi-row statement per table, their values encoded
    /// (building them is most of a write's work on this side of the wire: a line builds them
    /// beside its writer).
    static func statements(_ rows: PendingRows) -> [PostgresQuery] {
        var statements: [PostgresQuery] = []
        if !rows.log.isEmpty {
            statements.append(
                """
                INSERT INTO change_log (seq, replica_id, set_seq, change_set, committed_at)
                SELECT *, \(StoreSupport.nowMillis()) FROM unnest(\(rows.log.map(\.seq))::bigint[],
                    \(rows.log.map(\.replica))::text[], \(rows.log.map(\.setSeq))::bigint[],
                    \(rows.log.map { ByteBuffer(bytes: $0.changeSet) })::bytea[])
                """)
        }
        if !rows.records.isEmpty {
            let records = Array(rows.records.values)
            // Audiences as text (one array literal each): PostgreSQL has no arrays of arrays of
            // varying length. Arrays carry no NULLs here: an empty marker text stands for none.
            statements.append(
                """
                INSERT INTO record (type, id, deleted, redacted, audience, last_seq)
                SELECT type, id, NULLIF(deleted, ''), NULLIF(redacted, ''), audience::text[], last_seq
                FROM unnest(\(records.map(\.type))::text[], \(records.map(\.id))::text[],
                    \(records.map { $0.deleted ?? "" })::text[], \(records.map { $0.redacted ?? "" })::text[],
                    \(records.map(\.audience))::text[], \(records.map(\.lastSeq))::bigint[])
                    AS r(type, id, deleted, redacted, audience, last_seq)
                ON CONFLICT (type, id) DO UPDATE SET deleted = excluded.deleted, redacted = excluded.redacted,
                    audience = excluded.audience, last_seq = excluded.last_seq
                """)
        }
        if !rows.fields.isEmpty {
            let fields = rows.fields.map { ($0.key, $0.value) }
            statements.append(
                """
                INSERT INTO record_field (type, id, field, state)
                SELECT * FROM unnest(\(fields.map(\.0.type))::text[], \(fields.map(\.0.id))::text[],
                    \(fields.map(\.0.field))::text[], \(fields.map { ByteBuffer(data: $0.1) })::bytea[])
                ON CONFLICT (type, id, field) DO UPDATE SET state = excluded.state
                """)
        }
        if !rows.entries.isEmpty {
            let entries = rows.entries.map { ($0.key, $0.value) }
            statements.append(
                """
                INSERT INTO record_entry (type, id, field, entry_id, kind, state)
                SELECT * FROM unnest(\(entries.map(\.0.type))::text[], \(entries.map(\.0.id))::text[],
                    \(entries.map(\.0.field))::text[], \(entries.map(\.0.entryID))::text[],
                    \(entries.map(\.1.kind))::text[], \(entries.map { ByteBuffer(data: $0.1.state) })::bytea[])
                ON CONFLICT (type, id, field, entry_id) DO UPDATE SET kind = excluded.kind, state = excluded.state
                """)
        }
        if !rows.audience.isEmpty {
            // A plain insert, not an upsert: a position's rows are written once (one set each), and
            // `ON CONFLICT` costs a unique check and a confirmation record in the log per row.
            let audience = Array(rows.audience)
            statements.append(
                """
                INSERT INTO change_audience (tag, seq, type, id)
                SELECT * FROM unnest(\(audience.map(\.tag))::text[], \(audience.map(\.seq))::bigint[],
                    \(audience.map(\.key.type.rawValue))::text[], \(audience.map(\.key.id.rawValue))::text[])
                """)
        }
        if !rows.scope.isEmpty {
            let scope = Array(rows.scope)
            statements.append(
                """
                INSERT INTO scope_event (principal_id, seq, kind, type, id)
                SELECT * FROM unnest(\(scope.map(\.principal))::text[], \(scope.map(\.seq))::bigint[],
                    \(scope.map(\.kind))::text[], \(scope.map(\.key.type.rawValue))::text[],
                    \(scope.map(\.key.id.rawValue))::text[])
                ON CONFLICT DO NOTHING
                """)
        }
        if !rows.erasedImages.isEmpty {
            let keys = Array(rows.erasedImages)
            statements.append(
                """
                DELETE FROM record_image i USING unnest(\(keys.map(\.type.rawValue))::text[],
                    \(keys.map(\.id.rawValue))::text[]) AS k(type, id)
                WHERE i.type = k.type AND i.id = k.id
                """)
        }
        for (key, value) in rows.serverMeta.sorted(by: { $0.key < $1.key }) {
            statements.append(
                """
                INSERT INTO server_meta (key, value) VALUES (\(key), \(value))
                ON CONFLICT (key) DO UPDATE SET value = excluded.value
                """)
        }
        if !rows.outcomes.isEmpty {
            let outcomes = rows.outcomes
            statements.append(
                """
                INSERT INTO change_set_outcome (replica_id, set_seq, content_hash, status, code, message, log_seq)
                SELECT replica_id, set_seq, content_hash, status, NULLIF(code, ''), NULLIF(message, ''), NULLIF(log_seq, 0)
                FROM unnest(\(outcomes.map(\.replica))::text[], \(outcomes.map(\.setSeq))::bigint[],
                    \(outcomes.map { ByteBuffer(data: $0.hash) })::bytea[], \(outcomes.map(\.status))::text[],
                    \(outcomes.map { $0.code ?? "" })::text[], \(outcomes.map { $0.message ?? "" })::text[],
                    \(outcomes.map { $0.logSeq ?? 0 })::bigint[])
                    AS o(replica_id, set_seq, content_hash, status, code, message, log_seq)
                """)
        }
        return statements
    }
}
