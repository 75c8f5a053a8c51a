import ConciergeCore
import GRDB
import Synchronization

/// SQLite's pushes on a line of two stations: a group of push batches is checked and merged beside
/// the writer (``GroupPush`` with ``SQLitePushStore``) while SQLite's one writer writes and commits
/// the group before it. The writer, which bounds what one SQLite file takes, does nothing but
/// write rows; the checks, merges and encoding run on another core meanwhile.
///
/// Like ``GroupCommit``, batches that arrive while a group is under way form the next group (up
/// to ``PushJob/groupSets`` change sets), and each batch gets its outcomes only once the
/// transaction that holds its writes has committed:
/// - A group is checked against the rows of the group before it as they will be once that one
///   commits. If that transaction fails instead, the group is checked again.
/// - If a group's transaction fails, each of its batches runs again alone, so a batch that fails
///   takes no other with it (nothing of the failed transaction was committed).
/// - If another connection committed since the writer's last push transaction (an admin command
///   beside the server), what the group read may have changed: the record cache is dropped and
///   the group checked again.
final class SQLitePushLine: Sendable {
    private let pool: DatabasePool
    private let checkpointer: WALCheckpointer
    private let cache: RecordCache
    private let images: SnapshotImages
    private let epoch: String
    private let beforeCommit: (@Sendable ([PushOutcome]) throws -> Void)?
    private let afterCheck: (@Sendable ([PushOutcome]) -> Void)?
    private let jobs = WaitingJobs<PushJob, PushResult>(maxWeight: PushJob.groupSets) { $0.sets.count }
    private typealias Waiting = WaitingJobs<PushJob, PushResult>.Waiting
    /// Where groups are checked (the drain runs there), ahead of request handling when the system
    /// allows it: the check is the stage every push waits for, and decoding requests faster than
    /// groups are checked only makes them wait longer.
    private let checks = OwnThreadExecutor(name: "push-check", nice: -10)

    /// A group checked and merged, for the writer.
    private struct Checked: Sendable {
        var group: [Waiting]
        var results: [PushResult]
        var uncommitted: SQLitePushStore.Uncommitted
        /// Its rows, as the writer writes them.
        var order: SQLiteServerStore.WriteOrder
    }

    /// A group on its way through the writer.
    private struct Writing {
        var checked: Checked
        var transaction: Transaction
    }

    /// A group's transaction, handed straight to the writer's queue: it starts there at once, not
    /// once a thread of the concurrency pool is free (both may be busy, checking the next group
    /// and answering requests). It ends with whether it committed (`false`: nothing was written,
    /// because the group it was checked against did not commit or another connection committed
    /// since).
    private final class Transaction: Sendable {
        private struct State {
            var result: Result<Bool, any Error>?
            var waiter: CheckedContinuation<Bool, any Error>?
        }

        private let state = Mutex(State())

        func complete(_ result: Result<Bool, any Error>) {
            let waiter = state.withLock { state -> CheckedContinuation<Bool, any Error>? in
                state.result = result
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(with: result)
        }

        /// Whether it has ended and committed.
        var didCommit: Bool {
            state.withLock { state in
                if case .success(true)? = state.result { true } else { false }
            }
        }

        var committed: Bool {
            get async throws {
                try await withCheckedThrowingContinuation { continuation in
                    let result = state.withLock { state -> Result<Bool, any Error>? in
                        if state.result == nil { state.waiter = continuation }
                        return state.result
                    }
                    if let result { continuation.resume(with: result) }
                }
            }
        }
    }

    private enum Finished {
        case committed
        /// Its batches ran again alone.
        case failed
        /// Written nothing, to be checked again: checked against rows another connection changed
        /// since, or against those of a group that did not commit.
        case again
    }

    /// - Parameters:
    ///   - beforeCommit: for tests, runs inside each push transaction after its writes, with the
    ///     outcomes of the group; throwing rolls the group back.
    ///   - afterCheck: for tests, runs when a group has been checked, with its outcomes.
    init(
        pool: DatabasePool, checkpointer: WALCheckpointer, cache: RecordCache, images: SnapshotImages, epoch: String,
        beforeCommit: (@Sendable ([PushOutcome]) throws -> Void)?, afterCheck: (@Sendable ([PushOutcome]) -> Void)?
    ) {
        self.pool = pool
        self.checkpointer = checkpointer
        self.cache = cache
        self.images = images
        self.epoch = epoch
        self.beforeCommit = beforeCommit
        self.afterCheck = afterCheck
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
            let next: Writing
            do {
                let checked = try await check(group, before: writing?.checked.uncommitted)
                next = Writing(checked: checked, transaction: write(checked, after: writing?.transaction))
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
                    let checked = try await check([item], before: nil)
                    guard try await write(checked, after: nil).committed else { continue }
                    committed(checked)
                    item.continuation.resume(returning: checked.results[0])
                    break
                }
            } catch {
                item.continuation.resume(throwing: error)
            }
        }
    }

    /// Checks and merges a group, reading committed rows with `before` (the group being written)
    /// laid over them.
    private func check(_ group: [Waiting], before: SQLitePushStore.Uncommitted?) async throws -> Checked {
        do {
            let jobs = group.map(\.job)
            var push = GroupPush(
                store: try await SQLitePushStore(pool: pool, before: before), epoch: epoch, cache: cache)
            try await push.prepare(jobs)
            var results: [PushResult] = []
            results.reserveCapacity(jobs.count)
            for job in jobs { results.append(try await push.push(job)) }
            afterCheck?(results.flatMap(\.outcomes))
            return Checked(
                group: group, results: results,
                uncommitted: .init(
                    rows: push.pending, records: push.writtenRecords, outcomes: push.stored, head: push.store.head),
                order: .init(push.pending))
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.database, "reading for a push failed", underlying: error)
        }
    }

    /// Writes a checked group in one transaction, queued on the writer behind `previous` (the
    /// group it was checked against). It writes nothing (and ends `false`) when `previous` did not
    /// commit, or another connection committed since the last push transaction.
    private func write(_ checked: Checked, after previous: Transaction?) -> Transaction {
        let transaction = Transaction()
        let (cache, beforeCommit, checkpointer) = (cache, beforeCommit, checkpointer)
        let callers = checked.group.map(\.job.caller)
        pool.asyncWrite(
            { db in
                // The writer's queue is serial: `previous` has ended by now.
                if let previous, !previous.didCommit { return false }
                if try cache.checkDataVersion(in: db) { return false }
                try SQLiteServerStore.write(checked.order, callers: callers, in: db)
                try beforeCommit?(checked.results.flatMap(\.outcomes))
                return true
            },
            completion: { _, result in
                checkpointer.commitFinished()
                transaction.complete(result.mapError { SQLiteServerStore.storeError($0, "a write failed") })
            })
        return transaction
    }

    /// After a group's commit: its records enter the cache, and their images may be built.
    private func committed(_ checked: Checked) {
        cache.store(checked.uncommitted.records)
        if checked.results.contains(where: { $0.counts.accepted > 0 }) { images.commitFinished() }
    }
}
