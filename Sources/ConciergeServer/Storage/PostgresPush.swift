import ConciergeCore
import Foundation
import Logging
import PostgresNIO

/// A group of push batches inside their one transaction: the head row held, positions assigned in
/// order.
///
/// Round trips, not rows, bound a push on PostgreSQL, so the group reads everything it needs in a
/// few statements before its first set (the stored outcomes, and every record the group touches,
/// with every field and entry any of its sets needs), checks and merges the sets one after the
/// other in memory, and writes the rows of the accepted sets with one multi-row statement per
/// table: in the background once rows of ``writeBehindSets`` sets are pending, while the group's
/// next batches merge, and the rest at its end. Rows a set writes are visible to the later sets of
/// the group through the in-memory records; anything read from the database afterwards (a
/// follow-up case) is read after a flush.
struct PostgresPush {
    let connection: PostgresConnection
    let logger: Logger
    let epoch: String
    let ordering: PostgresServerStore.LogOrdering
    var head: Int64
    /// The counts of the batch being pushed (the caller sets them aside between batches).
    var counts = PushCounts()
    /// What the whole group touched: the head to move, and the notice to the other instances.
    var touched = Touched()
    var notifies = true
    /// The store's instance id, on its notices.
    var instance = ""

    /// The group's sets after upgrade and validation (or why they failed), by change-set id.
    var prepared: [ChangeSetID: Result<ChangeSet, SyncError>] = [:]
    /// Outcomes stored before this group or earlier in it, by change-set id.
    var stored: [ChangeSetID: (hash: Data, status: String, code: String?, message: String?, logSeq: Int64?)] = [:]
    /// Records as this group sees them; `.some(nil)`: known not to exist.
    var records: [RecordKey: Record?] = [:]
    /// What the group's sets need of each record.
    var needs: [RecordKey: RecordRows.Need] = [:]
    var pending = PendingRows()
    /// Rows being written while the next sets are merged (see ``flushBehind()``).
    var writing: Task<Void, any Error>?
    var writeBehindSets = Self.writeBehindSets
    /// The instance's record cache, when it keeps one (``use(_:)``).
    var cache: RecordCache?
    /// The records this group wrote.
    var written: Set<RecordKey> = []

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

    /// Reads the stored outcomes and the records the group needs, in a few statements (each set's
    /// checks that need no stored state were made when its ``PushJob`` was made).
    mutating func prepare(_ jobs: [PushJob]) async throws {
        let ids = jobs.flatMap { job in job.sets.map(\.set.id).filter { $0.replica == job.caller.replica } }
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
            stored[ChangeSetID(replica: replica, seq: UInt64(bitPattern: seq))] = (hash, status, code, message, logSeq)
        }
        // Sets answered from their stored outcome need neither checks nor records. An id sent twice
        // is prepared once, as first sent: the second copy gets the first's outcome.
        for job in jobs {
            for encoded in job.sets
            where encoded.set.id.replica == job.caller.replica && stored[encoded.set.id] == nil
                && prepared[encoded.set.id] == nil
            {
                let result = encoded.prepared
                prepared[encoded.set.id] = result
                guard case .success(let set) = result else { continue }
                for key in set.keys {
                    needs[key, default: RecordRows.Need([])].merge(
                        RecordRows.Need(PushSteps.changes(of: set, to: key)))
                }
            }
        }
        try await loadRecords(Array(needs.keys))
    }

    /// Takes `cache` for this group's reads, after forgetting what it holds of records another
    /// instance wrote since this instance's last commit (the head row is held: nobody writes
    /// meanwhile).
    mutating func use(_ cache: RecordCache) async throws {
        if let known = cache.head, known <= head {
            if known < head {
                let changed = try await connection.query(
                    "SELECT type, id FROM record WHERE last_seq > \(known)", logger: logger
                ).collect().map { row in
                    let (type, id) = try row.decode((String, String).self)
                    return RecordKey(type: RecordType(type), id: RecordID(id))
                }
                cache.remove(changed)
            }
        } else {
            cache.removeAll()
        }
        cache.head = head
        self.cache = cache
    }

    /// What this group wrote, as the rows store it: for the cache, once the group committed.
    var writtenRecords: [RecordKey: Record?] {
        var result: [RecordKey: Record?] = [:]
        for key in written { result[key] = .some((records[key] ?? nil).map(RecordRows.rowForm)) }
        return result
    }

    /// Reads records into the batch's view (after writing what is pending, so reads see it): from
    /// the cache, with the entries the sets need, or from their rows. None of them was written by
    /// this group (those are in the view already), so what is read is committed.
    mutating func loadRecords(_ keys: [RecordKey]) async throws {
        guard !keys.isEmpty else { return }
        try await flush()
        var held: [RecordKey: Record] = [:]
        var misses: [RecordKey] = []
        for key in keys {
            switch cache?.lookup(key) {
            case .some(.some(let record)): held[key] = record
            case .some(.none): records[key] = .some(nil)
            case .none: misses.append(key)
            }
        }
        if !misses.isEmpty {
            let loaded = try await reader.records(misses, needs: needs)
            for key in misses { records[key] = .some(loaded[key]) }
            cache?.store(Dictionary(uniqueKeysWithValues: misses.map { ($0, loaded[$0].map(RecordRows.rowForm)) }))
        }
        guard !held.isEmpty else { return }
        let entries = try await reader.entryRows(Array(held.keys), needs: needs)
        for (key, record) in held {
            guard let rows = entries[key], !rows.isEmpty else {
                records[key] = .some(record)
                continue
            }
            var fields = record.fields
            try RecordRows.attach(rows, to: &fields, of: key)
            records[key] = .some(Record(key: key, fields: fields, deleted: record.deleted, redacted: record.redacted))
        }
    }

    /// Moves the head row, notes the devices' contact, and tells the other instances (the notice
    /// is delivered on commit, and only then).
    mutating func finish(callers: [Caller]) async throws {
        try await flush()
        if ordering == .commitOrdered, touched.head > 0 {
            try await connection.query("UPDATE log_head SET seq = \(head)", logger: logger)
        }
        try await connection.query(
            """
            UPDATE device SET last_seen_at = \(StoreSupport.nowMillis())
            WHERE replica_id = ANY(\(Array(Set(callers.map(\.replica.description)))))
            """, logger: logger)
        if notifies, touched.head > 0 {
            try await connection.query(
                "SELECT pg_notify(\(PostgresServerStore.channel), \(FanOutNotice(touched, from: instance).payload))",
                logger: logger)
        }
    }

    mutating func nextPosition() async throws -> Int64 {
        switch ordering {
        case .commitOrdered:
            head += 1
            return head
        case .unordered:
            try await settle()
            head = try await connection.one("SELECT nextval('change_log_unordered')", Int64.self, logger)
            return head
        }
    }

    mutating func push(_ encoded: PushSteps.EncodedSet, from caller: Caller) async throws -> PushOutcome {
        let set = encoded.set
        if let refused = PushSteps.checkSender(set, caller) { return refused }
        if let outcome = stored[set.id] {
            return PushSteps.replay(
                encoded, storedHash: outcome.hash, status: outcome.status, code: outcome.code, message: outcome.message,
                logSeq: outcome.logSeq, epoch: epoch)
        }
        func reject(_ error: SyncError) -> PushOutcome {
            if !error.isRetryable {
                pending.outcomes.append(
                    .init(
                        replica: set.id.replica.description, setSeq: Int64(bitPattern: set.id.seq), hash: encoded.hash,
                        status: "rejected", code: error.code.rawValue, message: error.message, logSeq: nil))
                stored[set.id] = (encoded.hash, "rejected", error.code.rawValue, error.message, nil)
            }
            return .rejected(set.id, error)
        }
        let upgraded: ChangeSet
        switch prepared[set.id] {
        case .success(let set)?: upgraded = set
        case .failure(let error)?: return reject(error)
        case nil: return reject(SyncError(.malformed, "the set was not prepared"))
        }
        var before: [RecordKey: Record] = [:]
        var after: [RecordKey: Record] = [:]
        var owners: [RecordKey: Principal] = [:]
        let missing = upgraded.keys.filter { records[$0] == nil }
        if !missing.isEmpty { try await loadRecords(Array(missing)) }
        for key in upgraded.keys {
            let stored = records[key] ?? nil
            before[key] = stored
            do {
                after[key] = try PushSteps.apply(
                    PushSteps.changes(of: upgraded, to: key), to: stored, key: key, by: upgraded.author)
            } catch {
                return reject(error)
            }
            if PushSteps.hasOwner(key) {
                try await settle()
                if let owner = try await PostgresServerStore.principal(PrincipalID(key.id.rawValue), connection, logger)
                {
                    owners[key] = owner
                }
            }
        }
        do {
            try Authorizer().authorize(
                upgraded, by: caller.principal, before: before, after: after, owner: { owners[$0] })
        } catch {
            return reject(error)
        }
        let seq = try await commit(
            upgraded, bytes: encoded.preparedBytes, before: before, after: after,
            owners: owners)
        pending.outcomes.append(
            .init(
                replica: set.id.replica.description, setSeq: Int64(bitPattern: set.id.seq), hash: encoded.hash,
                status: "accepted", code: nil, message: nil, logSeq: seq))
        stored[set.id] = (encoded.hash, "accepted", nil, nil, seq)
        try await openFollowUps(after: upgraded, before: before, after: after)
        return .accepted(set.id, at: Cursor(epoch: epoch, seq: UInt64(seq)))
    }

    /// Appends an accepted set to the log, then (in the batch's pending rows) the records it
    /// changed, who may read them, and the enter and leave events of principals whose scope it
    /// moved.
    mutating func commit(
        _ set: ChangeSet, bytes: [UInt8], before: [RecordKey: Record], after: [RecordKey: Record],
        owners: [RecordKey: Principal]
    ) async throws -> Int64 {
        let seq = try await nextPosition()
        pending.log.append(
            .init(
                seq: seq, replica: set.id.replica.description, setSeq: Int64(bitPattern: set.id.seq),
                changeSet: ByteBuffer(bytes: bytes)))
        for key in set.keys {
            let changes = PushSteps.changes(of: set, to: key)
            let oldAudience = before[key].map { Audience.of($0, owner: owners[key]) }
            let audience = Audience.of(after[key]!, owner: owners[key])
            pending.add(RecordRows.writes(after[key]!, touched: changes, audience: audience), seq: seq)
            // An erasure leaves no copy of what it erased: the snapshot image goes with it.
            if changes.contains(where: \.erases) { pending.erasedImages.insert(key) }
            records[key] = .some(after[key]!)
            written.insert(key)
            counts.touched.tags.formUnion(audience)
            counts.touched.head = UInt64(seq)
            touched.tags.formUnion(audience)
            touched.head = UInt64(seq)
            for tag in audience { pending.audience.insert(.init(tag: tag, seq: seq, key: key)) }
            if let oldAudience, oldAudience != audience {
                let was = try await principals(reading: oldAudience)
                let now = try await principals(reading: audience)
                let (entered, left) = (now.subtracting(was), was.subtracting(now))
                for (principals, kind) in [(entered, "enter"), (left, "leave")] {
                    for principal in principals {
                        pending.scope.insert(.init(principal: principal, seq: seq, kind: kind, key: key))
                    }
                }
                counts.enters += entered.count
                counts.leaves += left.count
                counts.touched.principals.formUnion(entered)
                counts.touched.principals.formUnion(left)
                touched.principals.formUnion(entered)
                touched.principals.formUnion(left)
            }
        }
        return seq
    }

    mutating func principals(reading tags: Set<String>) async throws -> Set<String> {
        guard !tags.isEmpty else { return [] }
        try await settle()
        return Set(
            try await connection.query(
                "SELECT DISTINCT principal_id FROM principal_tag WHERE tag = ANY(\(Array(tags)))", logger: logger
            ).collect().map { try $0.decode(String.self) })
    }

    /// Opens the follow-up of each closed case that received a customer message in `set`.
    mutating func openFollowUps(after set: ChangeSet, before: [RecordKey: Record], after: [RecordKey: Record])
        async throws
    {
        for trigger in PushSteps.followUpTriggers(of: set, before: before, after: after) {
            try await flush()
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
            // Both are whole now; later sets of the batch may need any of their fields.
            needs[trigger.closed] = .all
            needs[trigger.followUp] = .all
        }
    }

    /// Pending rows of at least this many sets start their write while the group's next batch is
    /// merged: PostgreSQL writes while the server works, instead of one waiting for the other.
    static let writeBehindSets = 250

    /// Starts writing the pending rows when there are enough of them, without waiting for the
    /// write; every later statement of the group waits for it first (``settle()``).
    mutating func flushBehind() async throws {
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
    mutating func flush() async throws {
        try await settle()
        guard !pending.isEmpty else { return }
        let rows = pending
        pending = PendingRows()
        try await Self.write(rows, connection, logger)
    }

    /// Writes `rows`, one multi-row statement per table.
    static func write(_ rows: PendingRows, _ connection: PostgresConnection, _ logger: Logger) async throws {
        if !rows.log.isEmpty {
            try await connection.query(
                """
                INSERT INTO change_log (seq, replica_id, set_seq, change_set, committed_at)
                SELECT *, \(StoreSupport.nowMillis()) FROM unnest(\(rows.log.map(\.seq))::bigint[],
                    \(rows.log.map(\.replica))::text[], \(rows.log.map(\.setSeq))::bigint[],
                    \(rows.log.map(\.changeSet))::bytea[])
                """, logger: logger)
        }
        if !rows.records.isEmpty {
            let records = Array(rows.records.values)
            // Audiences as text (one array literal each): PostgreSQL has no arrays of arrays of
            // varying length. Arrays carry no NULLs here: an empty marker text stands for none.
            try await connection.query(
                """
                INSERT INTO record (type, id, deleted, redacted, audience, last_seq)
                SELECT type, id, NULLIF(deleted, ''), NULLIF(redacted, ''), audience::text[], last_seq
                FROM unnest(\(records.map(\.type))::text[], \(records.map(\.id))::text[],
                    \(records.map { $0.deleted ?? "" })::text[], \(records.map { $0.redacted ?? "" })::text[],
                    \(records.map(\.audienceLiteral))::text[], \(records.map(\.lastSeq))::bigint[])
                    AS r(type, id, deleted, redacted, audience, last_seq)
                ON CONFLICT (type, id) DO UPDATE SET deleted = excluded.deleted, redacted = excluded.redacted,
                    audience = excluded.audience, last_seq = excluded.last_seq
                """, logger: logger)
        }
        if !rows.fields.isEmpty {
            let fields = rows.fields.map { ($0.key, $0.value) }
            try await connection.query(
                """
                INSERT INTO record_field (type, id, field, state)
                SELECT * FROM unnest(\(fields.map(\.0.type))::text[], \(fields.map(\.0.id))::text[],
                    \(fields.map(\.0.field))::text[], \(fields.map { ByteBuffer(data: $0.1) })::bytea[])
                ON CONFLICT (type, id, field) DO UPDATE SET state = excluded.state
                """, logger: logger)
        }
        if !rows.entries.isEmpty {
            let entries = rows.entries.map { ($0.key, $0.value) }
            try await connection.query(
                """
                INSERT INTO record_entry (type, id, field, entry_id, kind, state)
                SELECT * FROM unnest(\(entries.map(\.0.type))::text[], \(entries.map(\.0.id))::text[],
                    \(entries.map(\.0.field))::text[], \(entries.map(\.0.entryID))::text[],
                    \(entries.map(\.1.kind))::text[], \(entries.map { ByteBuffer(data: $0.1.state) })::bytea[])
                ON CONFLICT (type, id, field, entry_id) DO UPDATE SET kind = excluded.kind, state = excluded.state
                """, logger: logger)
        }
        if !rows.audience.isEmpty {
            // A plain insert, not an upsert: a position's rows are written once (one set each), and
            // `ON CONFLICT` costs a unique check and a confirmation record in the log per row.
            let audience = Array(rows.audience)
            try await connection.query(
                """
                INSERT INTO change_audience (tag, seq, type, id)
                SELECT * FROM unnest(\(audience.map(\.tag))::text[], \(audience.map(\.seq))::bigint[],
                    \(audience.map(\.key.type.rawValue))::text[], \(audience.map(\.key.id.rawValue))::text[])
                """, logger: logger)
        }
        if !rows.scope.isEmpty {
            let scope = Array(rows.scope)
            try await connection.query(
                """
                INSERT INTO scope_event (principal_id, seq, kind, type, id)
                SELECT * FROM unnest(\(scope.map(\.principal))::text[], \(scope.map(\.seq))::bigint[],
                    \(scope.map(\.kind))::text[], \(scope.map(\.key.type.rawValue))::text[],
                    \(scope.map(\.key.id.rawValue))::text[])
                ON CONFLICT DO NOTHING
                """, logger: logger)
        }
        if !rows.erasedImages.isEmpty {
            let keys = Array(rows.erasedImages)
            try await connection.query(
                """
                DELETE FROM record_image i USING unnest(\(keys.map(\.type.rawValue))::text[],
                    \(keys.map(\.id.rawValue))::text[]) AS k(type, id)
                WHERE i.type = k.type AND i.id = k.id
                """, logger: logger)
        }
        if !rows.outcomes.isEmpty {
            let outcomes = rows.outcomes
            try await connection.query(
                """
                INSERT INTO change_set_outcome (replica_id, set_seq, content_hash, status, code, message, log_seq)
                SELECT replica_id, set_seq, content_hash, status, NULLIF(code, ''), NULLIF(message, ''), NULLIF(log_seq, 0)
                FROM unnest(\(outcomes.map(\.replica))::text[], \(outcomes.map(\.setSeq))::bigint[],
                    \(outcomes.map { ByteBuffer(data: $0.hash) })::bytea[], \(outcomes.map(\.status))::text[],
                    \(outcomes.map { $0.code ?? "" })::text[], \(outcomes.map { $0.message ?? "" })::text[],
                    \(outcomes.map { $0.logSeq ?? 0 })::bigint[])
                    AS o(replica_id, set_seq, content_hash, status, code, message, log_seq)
                """, logger: logger)
        }
    }
}

/// The rows a push batch has yet to write; a later write of the same row replaces an earlier one.
struct PendingRows {
    struct Log {
        var seq: Int64
        var replica: String
        var setSeq: Int64
        var changeSet: ByteBuffer
    }

    struct RecordRow {
        var type: String
        var id: String
        var deleted: String?
        var redacted: String?
        /// The audience as a PostgreSQL array literal.
        var audienceLiteral: String
        var lastSeq: Int64
    }

    struct FieldKey: Hashable {
        var type: String
        var id: String
        var field: String
    }

    struct EntryKey: Hashable {
        var type: String
        var id: String
        var field: String
        var entryID: String
    }

    struct AudienceRow: Hashable {
        var tag: String
        var seq: Int64
        var key: RecordKey
    }

    struct ScopeRow: Hashable {
        var principal: String
        var seq: Int64
        var kind: String
        var key: RecordKey
    }

    struct Outcome {
        var replica: String
        var setSeq: Int64
        var hash: Data
        var status: String
        var code: String?
        var message: String?
        var logSeq: Int64?
    }

    var log: [Log] = []
    var records: [RecordKey: RecordRow] = [:]
    var fields: [FieldKey: Data] = [:]
    var entries: [EntryKey: (kind: String, state: Data)] = [:]
    var audience: Set<AudienceRow> = []
    var scope: Set<ScopeRow> = []
    var outcomes: [Outcome] = []
    /// Records whose snapshot image an erasure removes.
    var erasedImages: Set<RecordKey> = []

    var isEmpty: Bool {
        log.isEmpty && records.isEmpty && fields.isEmpty && entries.isEmpty && audience.isEmpty && scope.isEmpty
            && outcomes.isEmpty && erasedImages.isEmpty
    }

    mutating func add(_ writes: RecordRows.Writes, seq: Int64) {
        let key = RecordKey(type: RecordType(writes.type), id: RecordID(writes.id))
        records[key] = RecordRow(
            type: writes.type, id: writes.id, deleted: writes.deleted, redacted: writes.redacted,
            audienceLiteral: Self.arrayLiteral(writes.audience), lastSeq: seq)
        for field in writes.fields {
            fields[FieldKey(type: writes.type, id: writes.id, field: field.name)] = field.state
        }
        for entry in writes.entries {
            entries[EntryKey(type: writes.type, id: writes.id, field: entry.field, entryID: entry.entryID)] = (
                entry.kind, entry.state
            )
        }
    }

    /// `{"a","b"}`, every element quoted, and backslashes and quotes in it escaped. (It runs for
    /// every record a push writes, inside the push's transaction: bytes, not string searches.)
    static func arrayLiteral(_ elements: [String]) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(elements.reduce(2) { $0 + $1.utf8.count + 3 })
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            for byte in element.utf8 {
                if byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\"") { bytes.append(UInt8(ascii: "\\")) }
                bytes.append(byte)
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }
}
