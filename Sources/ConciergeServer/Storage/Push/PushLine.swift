import ConciergeCore
import Foundation
import Synchronization

/// A group checked and merged whose rows are being written, not committed yet: what the group
/// checked after it must see of it.
struct UncommittedGroup: Sendable {
    var rows: PendingRows
    /// The records it wrote, as their rows store them (every field, no entries).
    var records: [RecordKey: Record?]
    /// The outcomes it knew: stored before it, or by it.
    var outcomes: [ChangeSetID: StoredOutcome]
    /// The last log position it assigned.
    var head: Int64
}

/// Where a push line checks a group: committed rows, with the rows of the group being written
/// meanwhile (``UncommittedGroup``) laid over them.
///
/// Whether a read sees that group's commit or not, it sees the same: for every row the group
/// writes, the group's own version wins. Rows are only ever inserted or replaced by pushes (never
/// deleted), so laying rows over rows is all it takes.
protocol LinePushStore: PushStore {
    /// The last log position assigned: when the store is made, the position the group's checks
    /// start from (the head of the group being written, or the committed head).
    var head: Int64 { get }
    /// The group being written, or `nil` when none is.
    var before: UncommittedGroup? { get }

    /// The committed outcomes among `ids`.
    func committedOutcomes(_ ids: [ChangeSetID]) async throws -> [ChangeSetID: StoredOutcome]

    /// The committed rows of `keys` (the record row and every field row when `fields`; the entry
    /// rows each need asks for).
    func committedRows(_ keys: [RecordKey], fields: Bool, needs: [RecordKey: RecordRows.Need]) async throws
        -> [RecordKey: StoredRows]
}

extension LinePushStore {
    func outcomes(_ ids: [ChangeSetID]) async throws -> [ChangeSetID: StoredOutcome] {
        guard !ids.isEmpty else { return [:] }
        var stored = try await committedOutcomes(ids)
        if let before {
            for id in ids { if let outcome = before.outcomes[id] { stored[id] = outcome } }
        }
        return stored
    }

    func uncommitted(_ key: RecordKey) -> Record?? { before?.records[key] }

    func records(_ keys: [RecordKey], needs: [RecordKey: RecordRows.Need], pending: inout PendingRows) async throws
        -> [RecordKey: Record]
    {
        try await rows(keys, fields: true, needs: needs, pending: pending).compactMapValues { try $0.record() }
    }

    func entryRows(_ keys: [RecordKey], needs: [RecordKey: RecordRows.Need], pending: inout PendingRows) async throws
        -> [RecordKey: [(field: String, state: Data)]]
    {
        // Most sets write registers only: their records need no entry at all.
        let wanting = keys.filter { key in needs[key]?.asksForEntries ?? false }
        return try await rows(wanting, fields: false, needs: needs, pending: pending).mapValues(\.entryRows)
    }

    func wholeRecords(_ keys: [RecordKey], pending: inout PendingRows) async throws -> [RecordKey: Record] {
        var needs: [RecordKey: RecordRows.Need] = [:]
        for key in keys { needs[key] = .all }
        return try await records(keys, needs: needs, pending: &pending)
    }

    /// The rows of `keys` as committed, with the uncommitted group's rows and then `pending` laid
    /// over.
    private func rows(_ keys: [RecordKey], fields: Bool, needs: [RecordKey: RecordRows.Need], pending: PendingRows)
        async throws -> [RecordKey: StoredRows]
    {
        guard !keys.isEmpty else { return [:] }
        var result = try await committedRows(keys, fields: fields, needs: needs)
        StoredRows.lay([before?.rows, pending], over: &result, keys: keys, fields: fields, needs: needs)
        return result
    }
}

/// What a push line needs of its engine: a store to check groups with, and a writer that writes
/// checked groups one after the other, each in one transaction.
protocol PushLineEngine: Sendable {
    associatedtype Store: LinePushStore
    /// A checked group's rows as the engine's writer takes them.
    associatedtype Rows: Sendable

    var cache: RecordCache { get }
    var images: SnapshotImages { get }
    var epoch: String { get }

    /// A store for checking a group, with `before` (the group being written; `nil`: none is).
    func checkStore(before: UncommittedGroup?) async throws -> Store

    /// A checked group's rows, arranged for the writer (on the checking thread, beside the writer).
    func rows(_ pending: PendingRows) -> Rows

    /// Writes a checked group in one transaction, queued behind `previous` (the group it was
    /// checked against). It writes nothing, and ends `false`, when `previous` did not commit or
    /// another writer committed since the group's checks began (``CheckedGroup/base``).
    func write(_ group: CheckedGroup<Rows>, after previous: LineTransaction?) -> LineTransaction
}

/// A group of push batches checked and merged, for the writer.
struct CheckedGroup<Rows: Sendable>: Sendable {
    var group: [WaitingJobs<PushJob, PushResult>.Waiting]
    var results: [PushResult]
    var uncommitted: UncommittedGroup
    /// The log position the group's checks started from: the head it expects to find.
    var base: Int64
    /// What the group touched (for notices).
    var touched: Touched
    var rows: Rows

    var callers: [Caller] { group.map(\.job.caller) }
    var outcomes: [PushOutcome] { results.flatMap(\.outcomes) }
}

/// A group's transaction on its way through the writer. It ends with whether it committed
/// (`false`: nothing was written, because the group it was checked against did not commit or
/// another writer committed since).
final class LineTransaction: Sendable {
    private struct State {
        var result: Result<Bool, any Error>?
        var waiters: [CheckedContinuation<Bool, any Error>] = []
    }

    private let state = Mutex(State())

    func complete(_ result: Result<Bool, any Error>) {
        let waiters = state.withLock { state in
            state.result = result
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }

    /// Whether it has ended and committed.
    var didCommit: Bool {
        state.withLock { state in
            if case .success(true)? = state.result { true } else { false }
        }
    }

    /// Whether it committed, once it has ended (any number of callers may wait).
    var committed: Bool {
        get async throws {
            try await withCheckedThrowingContinuation { continuation in
                let result = state.withLock { state -> Result<Bool, any Error>? in
                    if state.result == nil { state.waiters.append(continuation) }
                    return state.result
                }
                if let result { continuation.resume(with: result) }
            }
        }
    }
}

/// Groups run under the writer's lock, checked inside their own transaction: what an engine
/// whose writers share one database with other instances falls back to while they contend (a
/// group checked beside the writer would find, again and again, that another instance committed
/// meanwhile).
struct LockedGroups: Sendable {
    /// Whether the next group runs so.
    var wanted: @Sendable () -> Bool
    /// Runs a group in one transaction, all or nothing.
    var run: @Sendable ([PushJob]) async throws -> [PushResult]
}

/// Pushes on a line of two stations: a group of push batches is checked and merged (``GroupPush``
/// with the engine's ``LinePushStore``) while the engine's writer writes and commits the group
/// before it. The writer does nothing but write rows; the checks, merges and encoding run on
/// another core meanwhile.
///
/// Batches that arrive while a group is under way form the next group (up to
/// ``PushJob/groupSets`` change sets), and each batch gets its outcomes only once the transaction
/// that holds its writes has committed:
/// - A group is checked against the rows of the group before it as they will be once that one
///   commits. If that transaction fails instead, the group is checked again.
/// - If a group's transaction fails, each of its batches runs again alone, so a batch that fails
///   takes no other with it (nothing of the failed transaction was committed).
/// - If another writer committed since a group's checks began (an admin command beside an SQLite
///   server, another PostgreSQL instance), what the group read may have changed: it is checked
///   again (or, while the engine says they contend, run under the writer's lock:
///   ``LockedGroups``).
final class PushLine<Engine: PushLineEngine>: Sendable {
    typealias Waiting = WaitingJobs<PushJob, PushResult>.Waiting
    typealias Checked = CheckedGroup<Engine.Rows>

    private let engine: Engine
    private let locked: LockedGroups?
    private let observer: any StoreObserver
    private let jobs = WaitingJobs<PushJob, PushResult>(maxWeight: PushJob.groupSets) { $0.sets.count }
    /// Where groups are checked (the drain runs there): a thread of its own, so that the check,
    /// the stage every push waits for, never waits for one of the concurrency pool's threads.
    private let checks = OwnThreadExecutor(name: "push-check")

    /// A group on its way through the writer.
    private struct Writing {
        var checked: Checked
        var transaction: LineTransaction
    }

    private enum Finished {
        case committed
        /// Its batches ran again alone.
        case failed
        /// Written nothing, to be checked again: checked against rows another writer changed
        /// since, or against those of a group that did not commit.
        case again
    }

    /// - Parameters:
    ///   - locked: how groups run under the writer's lock while the engine wants them to.
    ///   - observer: a test's, told when a group has been checked.
    init(engine: Engine, locked: LockedGroups? = nil, observer: any StoreObserver) {
        self.engine = engine
        self.locked = locked
        self.observer = observer
    }

    /// How many batches wait for a group (not counting those being checked or written).
    var waitingCount: Int { jobs.count }

    /// Pushes `job` in the next group and returns its outcomes once that group has committed.
    func run(_ job: PushJob) async throws -> PushResult {
        try await jobs.run(job) { Task(executorPreference: self.checks) { await self.drain() } }
    }

    /// Runs groups until no batch waits: each is checked while the one before is written, and
    /// queued on the writer behind it, so that the writer moves on to it the moment that one
    /// commits.
    private func drain() async {
        var writing: Writing?
        while true {
            let group = jobs.take(stopWhenIdle: writing == nil)
            guard !group.isEmpty else {
                guard let current = writing else { return }
                writing = nil
                if await finish(current) == .again { jobs.requeue(current.checked.group) }
                continue
            }
            if let locked, locked.wanted() {
                if let current = writing.take() {
                    switch await finish(current) {
                    case .again:
                        jobs.requeue(current.checked.group + group)
                        continue
                    case .committed: Self.release(current)
                    case .failed: break
                    }
                }
                await runLocked(group, locked)
                continue
            }
            let next: Writing
            do {
                let checked = try await check(group, before: writing?.checked.uncommitted)
                next = Writing(checked: checked, transaction: engine.write(checked, after: writing?.transaction))
            } catch {
                if let current = writing, await finish(current) == .again { jobs.requeue(current.checked.group) }
                writing = nil
                await runAlone(group, failure: error)
                continue
            }
            if let current = writing.take() {
                let finished = await finish(current)
                guard finished == .committed else {
                    // `next` was checked against rows that were not committed: its transaction
                    // writes nothing, and it is checked again.
                    _ = try? await next.transaction.committed
                    jobs.requeue((finished == .again ? current.checked.group : []) + group)
                    continue
                }
                Self.release(current)
            }
            writing = next
        }
    }

    /// Frees a written group's rows and records on the concurrency pool: thousands of rows take
    /// a while to free, and the checks need not wait for that.
    private static func release(_ written: consuming Writing) {
        Task.detached(priority: .background) { withExtendedLifetime(written) {} }
    }

    /// Waits for a group's transaction, then answers its batches, or runs them again alone.
    private func finish(_ current: Writing) async -> Finished {
        do {
            guard try await current.transaction.committed else { return .again }
            committed(current.checked)
            for (item, result) in zip(current.checked.group, current.checked.results) {
                item.continuation.resume(returning: result)
            }
            return .committed
        } catch {
            await runAlone(current.checked.group, failure: error)
            return .failed
        }
    }

    /// Runs each batch of a failed group alone, one after the other (a group of one fails with
    /// its error).
    private func runAlone(_ group: [Waiting], failure: any Error) async {
        guard group.count > 1 else {
            group[0].continuation.resume(throwing: failure)
            return
        }
        for item in group {
            do {
                while true {
                    if let locked, locked.wanted() {
                        item.continuation.resume(returning: try await locked.run([item.job])[0])
                        break
                    }
                    let checked = try await check([item], before: nil)
                    guard try await engine.write(checked, after: nil).committed else { continue }
                    committed(checked)
                    item.continuation.resume(returning: checked.results[0])
                    break
                }
            } catch {
                item.continuation.resume(throwing: error)
            }
        }
    }

    /// Runs a group under the writer's lock; if its transaction fails, each batch alone.
    private func runLocked(_ group: [Waiting], _ locked: LockedGroups) async {
        do {
            let results = try await locked.run(group.map(\.job))
            assert(results.count == group.count, "a locked group gives one result per batch")
            for (item, result) in zip(group, results) { item.continuation.resume(returning: result) }
        } catch {
            await runAlone(group, failure: error)
        }
    }

    /// Checks and merges a group, reading committed rows with `before` (the group being written)
    /// laid over them.
    private func check(_ group: [Waiting], before: UncommittedGroup?) async throws -> Checked {
        do {
            let jobs = group.map(\.job)
            let store = try await engine.checkStore(before: before)
            let base = store.head
            var push = GroupPush(store: store, epoch: engine.epoch, cache: engine.cache)
            try await push.prepare(jobs)
            var results: [PushResult] = []
            results.reserveCapacity(jobs.count)
            for job in jobs { results.append(try await push.push(job)) }
            observer.checked(results.flatMap(\.outcomes))
            return Checked(
                group: group, results: results,
                uncommitted: .init(
                    rows: push.pending, records: push.writtenRecords, outcomes: push.stored, head: push.store.head),
                base: base, touched: push.touched, rows: engine.rows(push.pending))
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.database, "reading for a push failed", underlying: error)
        }
    }

    /// After a group's commit: its records enter the cache, as of its last position, and their
    /// images may be built.
    private func committed(_ checked: Checked) {
        engine.cache.store(checked.uncommitted.records)
        engine.cache.head = checked.uncommitted.head
        if checked.results.contains(where: { $0.counts.accepted > 0 }) { engine.images.commitFinished() }
    }
}
