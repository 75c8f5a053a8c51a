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

    static func groupCommit(
        pool: DatabasePool, checkpointer: WALCheckpointer, records cache: RecordCache, images: SnapshotImages,
        epoch: String, beforeCommit: (@Sendable ([PushOutcome]) throws -> Void)?
    ) -> GroupCommit<PushJob, PushResult> {
        GroupCommit(maxWeight: PushJob.groupSets, weight: { $0.sets.count }) { jobs in
            let (results, written) = try await write(pool, checkpointer) { db in
                try cache.checkDataVersion(in: db)
                let records = WriterRecords(cache: cache)
                let results = try jobs.map { try push($0, epoch: epoch, records: records, in: db) }
                try beforeCommit?(results.flatMap(\.outcomes))
                return (results, records.written)
            }
            // Committed: the group's records may enter the cache, and their images be built.
            cache.store(written)
            if results.contains(where: { $0.counts.accepted > 0 }) { images.commitFinished() }
            return results
        }
    }

    /// Writes one push batch (inside a transaction that may hold others).
    static func push(_ job: PushJob, epoch: String, records: WriterRecords, in db: Database) throws -> PushResult {
        var outcomes: [PushOutcome] = []
        var counts = PushCounts()
        for set in job.sets {
            let outcome = try push(
                set, from: job.caller, epoch: epoch, counts: &counts, records: records, in: db)
            switch outcome.status {
            case .accepted: counts.accepted += 1
            case .duplicate: counts.duplicates += 1
            case .rejected: counts.rejected[outcome.error!.code, default: 0] += 1
            }
            outcomes.append(outcome)
        }
        try db.cachedExecute(
            sql: "UPDATE device SET last_seen_at = ? WHERE replica_id = ?",
            arguments: [StoreSupport.nowMillis(), job.caller.replica.description])
        return PushResult(outcomes: outcomes, counts: counts)
    }

    static func push(
        _ encoded: PushSteps.EncodedSet, from caller: Caller, epoch: String, counts: inout PushCounts,
        records: WriterRecords, in db: Database
    ) throws -> PushOutcome {
        let set = encoded.set
        if let refused = PushSteps.checkSender(set, caller) { return refused }
        let contentHash = encoded.hash
        if let stored = try Row.fetchOne(
            db.cachedStatement(
                sql:
                    "SELECT content_hash, status, code, message, log_seq FROM change_set_outcome WHERE replica_id = ? AND set_seq = ?"
            ),
            arguments: [set.id.replica.description, Int64(bitPattern: set.id.seq)])
        {
            return PushSteps.replay(
                encoded, storedHash: stored["content_hash"], status: stored["status"], code: stored["code"],
                message: stored["message"], logSeq: stored["log_seq"], epoch: epoch)
        }
        func reject(_ error: SyncError) throws -> PushOutcome {
            if !error.isRetryable {
                try db.cachedExecute(
                    sql:
                        "INSERT INTO change_set_outcome (replica_id, set_seq, content_hash, status, code, message) VALUES (?, ?, ?, 'rejected', ?, ?)",
                    arguments: [
                        set.id.replica.description, Int64(bitPattern: set.id.seq), contentHash, error.code.rawValue,
                        error.message,
                    ])
            }
            return .rejected(set.id, error)
        }
        let upgraded: ChangeSet
        switch encoded.prepared {
        case .success(let prepared): upgraded = prepared
        case .failure(let error): return try reject(error)
        }
        // Load what the set needs of each record, apply it, authorize before and after.
        var before: [RecordKey: Record] = [:]
        var after: [RecordKey: Record] = [:]
        var owners: [RecordKey: Principal] = [:]
        for key in upgraded.keys {
            let changes = PushSteps.changes(of: upgraded, to: key)
            let stored = try records.load(key, need: RecordRows.Need(changes), in: db)
            before[key] = stored
            do {
                after[key] = try PushSteps.apply(changes, to: stored, key: key, by: upgraded.author)
            } catch {
                return try reject(error)
            }
            if PushSteps.hasOwner(key), let owner = try principal(PrincipalID(key.id.rawValue), in: db) {
                owners[key] = owner
            }
        }
        do {
            try Authorizer().authorize(
                upgraded, by: caller.principal, before: before, after: after, owner: { owners[$0] })
        } catch {
            return try reject(error)
        }
        let seq = try commit(
            upgraded, bytes: encoded.preparedBytes, before: before, after: after,
            owners: owners, counts: &counts, records: records, in: db)
        try db.cachedExecute(
            sql:
                "INSERT INTO change_set_outcome (replica_id, set_seq, content_hash, status, log_seq) VALUES (?, ?, ?, 'accepted', ?)",
            arguments: [set.id.replica.description, Int64(bitPattern: set.id.seq), contentHash, seq])
        try openFollowUps(after: upgraded, before: before, after: after, counts: &counts, records: records, in: db)
        return .accepted(set.id, at: Cursor(epoch: epoch, seq: UInt64(seq)))
    }

    /// Appends an accepted set to the log, then writes the records it changed, who may read them,
    /// and the enter and leave events of principals whose scope it moved.
    /// - Returns: the set's log position.
    static func commit(
        _ set: ChangeSet, bytes: [UInt8], before: [RecordKey: ConciergeCore.Record],
        after: [RecordKey: ConciergeCore.Record],
        owners: [RecordKey: Principal], counts: inout PushCounts, records: WriterRecords, in db: Database
    ) throws -> Int64 {
        try db.cachedExecute(
            sql: "INSERT INTO change_log (replica_id, set_seq, change_set, committed_at) VALUES (?, ?, ?, ?)",
            arguments: [
                set.id.replica.description, Int64(bitPattern: set.id.seq), Data(bytes), StoreSupport.nowMillis(),
            ])
        let seq = db.lastInsertedRowID
        for key in set.keys {
            let changes = PushSteps.changes(of: set, to: key)
            let oldAudience = before[key].map { Audience.of($0, owner: owners[key]) }
            let audience = Audience.of(after[key]!, owner: owners[key])
            try RecordRows.save(after[key]!, touched: changes, audience: audience, seq: seq, in: db)
            // An erasure leaves no copy of what it erased: the record's snapshot image goes with
            // the change (the builder makes a new one). Other changes only make it stale.
            if changes.contains(where: \.erases) {
                try db.cachedExecute(
                    sql: "DELETE FROM record_image WHERE type = ? AND id = ?",
                    arguments: [key.type.rawValue, key.id.rawValue])
            }
            records.wrote(after[key]!)
            counts.touched.tags.formUnion(audience)
            counts.touched.head = UInt64(seq)
            for tag in audience {
                try db.cachedExecute(
                    sql: "INSERT OR IGNORE INTO change_audience (tag, seq, type, id) VALUES (?, ?, ?, ?)",
                    arguments: [tag, seq, key.type.rawValue, key.id.rawValue])
            }
            if let oldAudience, oldAudience != audience {
                let (entered, left) = try scopeChange(from: oldAudience, to: audience, in: db)
                for (principals, kind) in [(entered, "enter"), (left, "leave")] {
                    for principal in principals {
                        try db.cachedExecute(
                            sql:
                                "INSERT OR IGNORE INTO scope_event (principal_id, seq, kind, type, id) VALUES (?, ?, ?, ?, ?)",
                            arguments: [principal, seq, kind, key.type.rawValue, key.id.rawValue])
                    }
                }
                counts.enters += entered.count
                counts.leaves += left.count
                counts.touched.principals.formUnion(entered)
                counts.touched.principals.formUnion(left)
            }
        }
        return seq
    }

    /// When a customer message reaches a case that was already closed, the server opens the one
    /// follow-up case of that case (`UUIDv5(caseID, "follow-up")`), where the conversation
    /// continues, and links the two both ways. The message stays on the closed case's timeline.
    static func openFollowUps(
        after set: ChangeSet, before: [RecordKey: ConciergeCore.Record], after: [RecordKey: ConciergeCore.Record],
        counts: inout PushCounts, records: WriterRecords, in db: Database
    ) throws {
        for trigger in PushSteps.followUpTriggers(of: set, before: before, after: after) {
            guard try RecordRows.load(trigger.followUp, need: .init([]), in: db) == nil,
                // The set touched only some of the case's rows: read the whole of it to copy from.
                let whole = try RecordRows.load(trigger.closed, need: .all, in: db)
            else { continue }
            var server = try ServerIdentity.load(in: db)
            let followUpSet = PushSteps.followUpSet(trigger, whole: whole, server: &server)
            var newRecords: [RecordKey: ConciergeCore.Record] = [trigger.closed: whole]
            try followUpSet.apply(to: &newRecords)
            try server.save(in: db)
            _ = try commit(
                followUpSet, bytes: followUpSet.canonicalJSON, before: [trigger.closed: whole], after: newRecords,
                owners: [:], counts: &counts, records: records, in: db)
        }
    }

    /// The last log position ever assigned (compaction may have deleted its row).
    static func head(in db: Database) throws -> UInt64 {
        UInt64(
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM sqlite_sequence WHERE name = 'change_log'"))
                ?? 0)
    }

    /// The principals who gain and who lose sight of a record whose audience changes.
    static func scopeChange(from old: Set<String>, to new: Set<String>, in db: Database) throws -> (
        entered: Set<String>, left: Set<String>
    ) {
        func principals(_ tags: Set<String>) throws -> Set<String> {
            guard !tags.isEmpty else { return [] }
            let list = Array(tags)
            return Set(
                try String.fetchAll(
                    db.cachedStatement(
                        sql:
                            "SELECT DISTINCT principal_id FROM principal_tag WHERE tag IN (\(list.map { _ in "?" }.joined(separator: ",")))"
                    ),
                    arguments: StatementArguments(list)))
        }
        let before = try principals(old)
        let after = try principals(new)
        return (after.subtracting(before), before.subtracting(after))
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

    static func page(
        for principal: Principal, after start: UInt64, head: UInt64, limit: Int, epoch: String, in db: Database
    ) throws -> PullPage {
        let tags = Array(principal.tags)
        let placeholders = tags.map { _ in "?" }.joined(separator: ",")
        let seqs = try Int64.fetchAll(
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
        let hasMore = seqs.count > limit
        let pageSeqs = Array(seqs.prefix(limit))
        guard let last = pageSeqs.last else {
            return PullPage(events: [], cursor: Cursor(epoch: epoch, seq: head), hasMore: false)
        }
        var visible: [Int64: Set<RecordKey>] = [:]
        for row in try Row.fetchAll(
            db.cachedStatement(
                sql:
                    "SELECT DISTINCT seq, type, id FROM change_audience WHERE tag IN (\(placeholders)) AND seq > ? AND seq <= ?"
            ),
            arguments: StatementArguments(tags.map { $0 as any DatabaseValueConvertible } + [Int64(start), last]))
        {
            visible[row["seq"], default: []].insert(RecordKey(type: RecordType(row["type"]), id: RecordID(row["id"])))
        }
        var scope: [Int64: [(kind: String, key: RecordKey)]] = [:]
        for row in try Row.fetchAll(
            db.cachedStatement(
                sql:
                    "SELECT seq, kind, type, id FROM scope_event WHERE principal_id = ? AND seq > ? AND seq <= ? ORDER BY seq, kind, type, id"
            ),
            arguments: [principal.id.rawValue, Int64(start), last])
        {
            scope[row["seq"], default: []].append(
                (row["kind"], RecordKey(type: RecordType(row["type"]), id: RecordID(row["id"]))))
        }
        var events: [PullEvent] = []
        for seq in pageSeqs {
            var handled = Set<RecordKey>()
            for event in scope[seq] ?? [] {
                handled.insert(event.key)
                if event.kind == "leave" {
                    events.append(.leave(event.key))
                } else if let record = try RecordRows.load(event.key, need: .all, in: db),
                    !Audience.of(record, owner: try owner(of: event.key, in: db)).isDisjoint(with: principal.tags)
                {
                    // The record's current projection; skipped when it has left the scope again since.
                    events.append(.enter(Projection.record(record, for: principal)))
                }
            }
            let keys = (visible[seq] ?? []).subtracting(handled)
            guard !keys.isEmpty,
                let data = try Data.fetchOne(
                    db.cachedStatement(sql: "SELECT change_set FROM change_log WHERE seq = ?"), arguments: [seq])
            else { continue }
            let set = try RecordRows.decode(data, ChangeSet.init(value:))
            let projected = Projection.changeSet(set, for: principal, keys: keys) { key, entry in
                let kind = try? String.fetchOne(
                    db.cachedStatement(sql: "SELECT kind FROM record_entry WHERE type = ? AND id = ? AND entry_id = ?"),
                    arguments: [key.type.rawValue, key.id.rawValue, entry.rawValue])
                return kind.map { EntryKind.internalKinds.contains($0) } ?? false
            }
            if let projected { events.append(.changeSet(projected)) }
        }
        return PullPage(
            events: events, cursor: Cursor(epoch: epoch, seq: hasMore ? UInt64(last) : head), hasMore: hasMore)
    }

    static func owner(of key: RecordKey, in db: Database) throws -> Principal? {
        guard PushSteps.hasOwner(key) else { return nil }
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
        var next: SnapshotPosition?
        if rows.count - changed > limit {
            let previous = rows[changed + limit - 1]
            next = position
            next!.seen = head
            next!.last = (previous[2], previous[0], previous[1])
            rows.removeLast()
        }
        var images: [RecordImage] = []
        var keys: [RecordKey] = []
        for row in rows {
            if let bytes = row[3] as Data? {
                images.append(RecordImage(bytes: [UInt8](bytes)))
            } else {
                keys.append(RecordKey(type: RecordType(row[0]), id: RecordID(row[1])))
            }
        }
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
            // With no device seen within the window, keep the log: there is nobody to measure by.
            guard let horizon = lowest, horizon > previous else { return UInt64(previous) }
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
