import ConciergeCore
import Foundation

/// The outcome stored for a change set: what a replay of it is answered with.
struct StoredOutcome: Sendable {
    var hash: Data
    var status: String
    var code: String?
    var message: String?
    var logSeq: Int64?
}

/// Where a group push reads what it needs, and when its pending rows become visible to those
/// reads: one implementation per engine.
///
/// PostgreSQL reads inside the group's own transaction, so it writes the pending rows before a
/// read that must see them. SQLite checks and merges a group beside its one writer, while the
/// group before is still being written: it reads committed rows and lays the rows not yet
/// committed over them (``SQLitePushStore``).
protocol PushStore {
    /// How the engine stores a record's audience (its tags, sorted) in the record row.
    static func audienceText(_ tags: [String]) -> String

    /// The stored outcomes among `ids`.
    mutating func outcomes(_ ids: [ChangeSetID]) async throws -> [ChangeSetID: StoredOutcome]

    /// A record an earlier group wrote whose rows are not committed yet, as its rows store it
    /// (`.some(nil)`: known not to exist); `nil` when no such group wrote it. Looked up before
    /// the record cache, which holds committed states only.
    func uncommitted(_ key: RecordKey) -> Record??

    /// Records of keys neither this group nor an uncommitted one wrote, each with every field and
    /// the entries `needs` asks of it; keys with no record are absent.
    mutating func records(_ keys: [RecordKey], needs: [RecordKey: RecordRows.Need], pending: inout PendingRows)
        async throws -> [RecordKey: Record]

    /// The entry rows `needs` asks for of records this group has not written (their fields came
    /// from the cache or an uncommitted group).
    mutating func entryRows(_ keys: [RecordKey], needs: [RecordKey: RecordRows.Need], pending: inout PendingRows)
        async throws -> [RecordKey: [(field: String, state: Data)]]

    /// Whole records, with everything any group wrote so far (this one's `pending` rows too);
    /// keys with no record are absent.
    mutating func wholeRecords(_ keys: [RecordKey], pending: inout PendingRows) async throws -> [RecordKey: Record]

    /// The server's identity as last saved, this group's `pending` rows included (a follow-up
    /// set saves its new state in them).
    mutating func serverIdentity(pending: inout PendingRows) async throws -> ServerIdentity

    /// A principal (pushes never change principals).
    mutating func principal(_ id: PrincipalID) async throws -> Principal?

    /// The principals who read any of `tags`.
    mutating func principals(reading tags: Set<String>) async throws -> Set<String>

    /// The next log position.
    mutating func nextPosition() async throws -> Int64
}

/// A group of push batches checked and merged in memory: everything a group reads is read in a
/// few statements before its first set (the stored outcomes, and every record it touches with
/// every field and entry any of its sets needs); the sets are checked and merged one after the
/// other; the rows of accepted sets collect in ``pending`` for the engine to write. Rows a set
/// writes are visible to the later sets of the group through the in-memory records.
struct GroupPush<Store: PushStore> {
    var store: Store
    let epoch: String
    /// The record policies and reactions of the batch being pushed (its ``PushPolicy``).
    var rules = DomainRules.standard
    /// The server's clock when the batch being pushed arrived.
    var serverMillis: UInt64 = 0
    /// The counts of the batch being pushed (reset for each batch).
    var counts = PushCounts()
    /// What the whole group touched.
    var touched = Touched()

    /// Outcomes stored before this group or earlier in it, by change-set id.
    var stored: [ChangeSetID: StoredOutcome] = [:]
    /// Records as this group sees them; `.some(nil)`: known not to exist.
    var records: [RecordKey: Record?] = [:]
    /// What the group's sets need of each record.
    var needs: [RecordKey: RecordRows.Need] = [:]
    /// The rows accepted sets wrote, for the engine to write.
    var pending = PendingRows()
    /// The instance's record cache, when it keeps one.
    var cache: RecordCache?
    /// The records this group wrote.
    var written: Set<RecordKey> = []

    init(store: Store, epoch: String, cache: RecordCache?) {
        self.store = store
        self.epoch = epoch
        self.cache = cache.flatMap { $0.capacity > 0 ? $0 : nil }
    }

    /// Reads the stored outcomes and the records the group needs, in a few statements (each set's
    /// checks that need no stored state were made when its ``PushJob`` was made).
    mutating func prepare(_ jobs: [PushJob]) async throws {
        let ids = jobs.flatMap { job in job.sets.map(\.set.id).filter { $0.replica == job.caller.replica } }
        stored = try await store.outcomes(ids)
        // Sets answered from their stored outcome need neither checks nor records.
        for job in jobs {
            for encoded in job.sets where encoded.set.id.replica == job.caller.replica && stored[encoded.set.id] == nil
            {
                guard case .success(let set) = encoded.prepared else { continue }
                for part in set.records { need(part.need, of: part.key) }
            }
        }
        try await loadRecords(Array(needs.keys))
    }

    /// Pushes one batch: an outcome per set, and the batch's counts.
    mutating func push(_ job: PushJob) async throws -> PushResult {
        counts = PushCounts()
        rules = job.policy.rules
        serverMillis = job.serverMillis
        var outcomes: [PushOutcome] = []
        outcomes.reserveCapacity(job.sets.count)
        for set in job.sets {
            let outcome = try await push(set, from: job.caller)
            switch outcome.status {
            case .accepted: counts.accepted += 1
            case .duplicate: counts.duplicates += 1
            case .rejected: counts.rejected[outcome.error!.code, default: 0] += 1
            }
            outcomes.append(outcome)
        }
        return PushResult(outcomes: outcomes, counts: counts)
    }

    /// What this group wrote, as the rows store it: for the cache, once the group committed.
    var writtenRecords: [RecordKey: Record?] {
        var result: [RecordKey: Record?] = [:]
        for key in written { result[key] = .some((records[key] ?? nil).map(RecordRows.rowForm)) }
        return result
    }

    /// Reads records into the group's view: from an uncommitted group or the cache, with the
    /// entries the sets need, or from their rows. None of them was written by this group (those
    /// are in the view already).
    mutating func loadRecords(_ keys: [RecordKey]) async throws {
        guard !keys.isEmpty else { return }
        var held: [RecordKey: Record] = [:]
        var misses: [RecordKey] = []
        for key in keys {
            switch store.uncommitted(key) ?? cache?.lookup(key) {
            case .some(.some(let record)): held[key] = record
            case .some(.none): records[key] = .some(nil)
            case .none: misses.append(key)
            }
        }
        if !misses.isEmpty {
            let loaded = try await store.records(misses, needs: needs, pending: &pending)
            for key in misses { records[key] = .some(loaded[key]) }
            cache?.store(Dictionary(uniqueKeysWithValues: misses.map { ($0, loaded[$0].map(RecordRows.rowForm)) }))
        }
        guard !held.isEmpty else { return }
        let entries = try await store.entryRows(Array(held.keys), needs: needs, pending: &pending)
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

    mutating func push(_ encoded: PushSteps.EncodedSet, from caller: Caller) async throws -> PushOutcome {
        let set = encoded.set
        if let refused = PushSteps.checkSender(set, caller) { return refused }
        if let outcome = stored[set.id] {
            return PushSteps.replay(encoded, stored: outcome, epoch: epoch)
        }
        func reject(_ error: SyncError) -> PushOutcome {
            if !error.isRetryable {
                let outcome = StoredOutcome(
                    hash: encoded.hash, status: "rejected", code: error.code.rawValue, message: error.message)
                pending.outcomes.append(.init(set.id, outcome))
                stored[set.id] = outcome
            }
            return .rejected(set.id, error)
        }
        // An id sent twice in a group: the first copy's outcome answers the second (above), unless
        // it was a retryable refusal, which stores none; then the second is checked on its own.
        let prepared: PushSteps.PreparedSet
        switch encoded.prepared {
        case .success(let set): prepared = set
        case .failure(let error): return reject(error)
        }
        let upgraded = prepared.set
        var before: [RecordKey: LoadedRecord] = [:]
        var after: [RecordKey: LoadedRecord] = [:]
        var owners: [RecordKey: Principal] = [:]
        let missing = prepared.records.filter { records[$0.key] == nil }
        if !missing.isEmpty {
            for part in missing { need(part.need, of: part.key) }
            try await loadRecords(missing.map(\.key))
        }
        var writes: [RecordWrite] = []
        for part in prepared.records {
            let key = part.key
            let stored = records[key] ?? nil
            let coverage = needs[key] ?? part.need
            before[key] = stored.map { LoadedRecord($0, coverage: coverage) }
            do {
                after[key] = LoadedRecord(
                    try PushSteps.apply(part.changes, to: stored, key: key, by: upgraded.author), coverage: coverage)
            } catch {
                return reject(error)
            }
            if rules.isOwnedByItsID(key), let owner = try await store.principal(PrincipalID(key.id.rawValue)) {
                owners[key] = owner
            }
            writes.append(
                RecordWrite(
                    key: key, changes: part.changes, principal: caller.principal, before: before[key],
                    after: after[key]!, owner: owners[key], related: [:], serverMillis: serverMillis))
        }
        // Other records the checks read (the customer's preferences for an outbound message).
        for index in writes.indices {
            let keys = rules.policy(writes[index].key.type)?.related(writes[index]) ?? []
            guard !keys.isEmpty else { continue }
            let unread = keys.filter { records[$0] == nil }
            if !unread.isEmpty {
                for key in unread { need(RecordRows.Need([]), of: key) }
                try await loadRecords(unread)
            }
            for key in keys { writes[index].related[key] = records[key] ?? nil }
        }
        for index in writes.indices {
            for id in rules.policy(writes[index].key.type)?.relatedPrincipals(writes[index]) ?? [] {
                writes[index].principals[id] = try await store.principal(id)
            }
        }
        do {
            try rules.authorize(upgraded, by: caller.principal, writes: writes)
        } catch {
            return reject(error)
        }
        let seq = try await commit(
            prepared, bytes: encoded.loggedBytes, before: before.mapValues(\.partial),
            after: after.mapValues(\.partial),
            owners: owners)
        let outcome = StoredOutcome(hash: encoded.hash, status: "accepted", logSeq: seq)
        pending.outcomes.append(.init(set.id, outcome))
        stored[set.id] = outcome
        // A record the set created is whole in the group's view: a reaction reads it from there.
        for part in prepared.records where before[part.key] == nil { needs[part.key] = .all }
        try await react(to: AcceptedSet(set: upgraded, before: before, after: after, serverMillis: serverMillis))
        return .accepted(set.id, at: Cursor(epoch: epoch, seq: UInt64(seq)))
    }

    /// Adds to what the group reads of a record.
    mutating func need(_ need: RecordRows.Need, of key: RecordKey) {
        if needs[key] == nil { needs[key] = need } else { needs[key]!.merge(need) }
    }

    /// Appends an accepted set to the log, then (in the pending rows) the records it changed, who
    /// may read them, and the enter and leave events of principals whose scope it moved.
    /// - Parameter bytes: the set as the log stores it (the compact binary form).
    /// - Returns: the set's log position.
    mutating func commit(
        _ prepared: PushSteps.PreparedSet, bytes: [UInt8], before: [RecordKey: Record], after: [RecordKey: Record],
        owners: [RecordKey: Principal]
    ) async throws -> Int64 {
        let set = prepared.set
        let seq = try await store.nextPosition()
        pending.log.append(
            .init(
                seq: seq, replica: set.id.replica.description, setSeq: Int64(bitPattern: set.id.seq), changeSet: bytes))
        for part in prepared.records {
            let (key, changes) = (part.key, part.changes)
            let audience = Audience.of(after[key]!, owner: owners[key])
            // Changes to fields the audience does not read leave it where it was.
            let oldAudience = part.movesAudience ? before[key].map { Audience.of($0, owner: owners[key]) } : nil
            pending.add(
                RecordRows.writes(after[key]!, touched: changes, audience: audience), seq: seq,
                audienceText: Store.audienceText)
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
                let was = try await store.principals(reading: oldAudience)
                let now = try await store.principals(reading: audience)
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

    /// Runs the reactions to an accepted set: each derived set is committed right after it, by the
    /// server's own replica id. The records a reaction reads are read whole, and stay whole for
    /// the later sets of the group.
    ///
    /// A derived set is reacted to in turn (the follow-up case is routed; a case a visit report
    /// resolved leaves its technician's workload), at most ``reactionDepth`` sets deep.
    mutating func react(to accepted: AcceptedSet, depth: Int = 0) async throws {
        guard depth < Self.reactionDepth else { return }
        for reaction in rules.reactions {
            for plan in reaction.plans(for: accepted) {
                var read = Set(plan.reads)
                var whole = try await wholeRecords(plan.reads)
                while let more = plan.more {
                    var next: [RecordKey] = []
                    for key in more(whole) where read.insert(key).inserted { next.append(key) }
                    guard !next.isEmpty else { break }
                    whole.merge(try await wholeRecords(next)) { $1 }
                }
                // What was read stays whole for the later sets and plans of the group.
                for key in read {
                    records[key] = .some(whole[key])
                    needs[key] = .all
                }
                guard let derive = plan.make(whole) else { continue }
                var server = try await store.serverIdentity(pending: &pending)
                let derived = derive(&server)
                var newRecords = whole
                try derived.apply(to: &newRecords)
                for (key, value) in server.meta { pending.serverMeta[key] = value }
                _ = try await commit(
                    PushSteps.PreparedSet(derived, rules: rules), bytes: derived.compactBinary(), before: whole,
                    after: newRecords, owners: [:])
                for key in derived.keys { needs[key] = .all }
                try await react(
                    to: AcceptedSet(
                        set: derived, before: whole.mapValues { LoadedRecord($0, coverage: .all) },
                        after: newRecords.mapValues { LoadedRecord($0, coverage: .all) },
                        serverMillis: accepted.serverMillis),
                    depth: depth + 1)
            }
        }
    }

    /// How deep derived sets are reacted to: a set, the set derived from it, and one more.
    static var reactionDepth: Int { 3 }

    /// Whole records for a reaction: those this group already holds whole as it sees them, the
    /// others from the store (with everything any group wrote so far).
    mutating func wholeRecords(_ keys: [RecordKey]) async throws -> [RecordKey: Record] {
        var result: [RecordKey: Record] = [:]
        var unread: [RecordKey] = []
        for key in keys {
            if needs[key]?.everything == true, let held = records[key] {
                if let held { result[key] = held }
            } else {
                unread.append(key)
            }
        }
        if !unread.isEmpty { result.merge(try await store.wholeRecords(unread, pending: &pending)) { $1 } }
        return result
    }
}
