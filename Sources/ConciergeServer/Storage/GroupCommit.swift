import Synchronization

/// Jobs waiting for a transaction, each with the continuation of the call that waits for its
/// output, and whether something is taking groups of them. Group commits take their groups here.
final class WaitingJobs<Job: Sendable, Output: Sendable>: Sendable {
    struct Waiting: Sendable {
        var job: Job
        var continuation: CheckedContinuation<Output, any Error>
    }

    private struct State {
        var waiting: [Waiting] = []
        var running = false
    }

    private let weight: @Sendable (Job) -> Int
    private let maxWeight: Int
    private let state = Mutex(State())

    /// - Parameters:
    ///   - maxWeight: a group holds jobs up to this total weight (at least one job).
    ///   - weight: a job's weight (for pushes, its change sets).
    init(maxWeight: Int, weight: @escaping @Sendable (Job) -> Int) {
        self.maxWeight = maxWeight
        self.weight = weight
    }

    /// How many jobs wait (not counting those taken).
    var count: Int { state.withLock { $0.waiting.count } }

    /// Queues `job` and waits for its output; calls `start` when nothing is taking groups.
    func run(_ job: Job, start: @escaping @Sendable () -> Void) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let starts = state.withLock { state -> Bool in
                state.waiting.append(Waiting(job: job, continuation: continuation))
                guard !state.running else { return false }
                state.running = true
                return true
            }
            if starts { start() }
        }
    }

    /// Takes the next group, in order, up to the maximum weight; with `stopWhenIdle`, notes that
    /// nothing takes groups any more when none waits (under the same lock, so that a job queued
    /// later starts taking again).
    func take(stopWhenIdle: Bool = true) -> [Waiting] {
        state.withLock { state in
            var total = 0
            var count = 0
            for item in state.waiting {
                total += weight(item.job)
                guard count == 0 || total <= maxWeight else { break }
                count += 1
            }
            if count == 0 && stopWhenIdle { state.running = false }
            defer { state.waiting.removeFirst(count) }
            return Array(state.waiting.prefix(count))
        }
    }

    /// Puts jobs back at the head of the queue, in their order.
    func requeue(_ group: [Waiting]) {
        state.withLock { $0.waiting.insert(contentsOf: group, at: 0) }
    }
}

/// Group commit: jobs that arrive while a transaction is running wait for it, and then run
/// together in the next one, so that a stream of pushes pays one commit (one log write, one fsync)
/// per group instead of one per push.
///
/// Each job still gets its own result, and only after the transaction that holds its writes has
/// committed. If a group's transaction fails, every job of the group runs again alone, so a job
/// that fails takes no other with it (nothing of the failed transaction was committed).
final class GroupCommit<Job: Sendable, Output: Sendable>: Sendable {
    /// Runs jobs in one transaction, all or nothing; throws to roll all of them back.
    typealias Transaction = @Sendable ([Job]) async throws -> [Output]

    private let transaction: Transaction
    private let jobs: WaitingJobs<Job, Output>

    /// - Parameters:
    ///   - maxWeight: a group holds jobs up to this total weight (at least one job).
    ///   - weight: a job's weight (for pushes, its change sets).
    ///   - transaction: runs a group.
    init(
        maxWeight: Int, weight: @escaping @Sendable (Job) -> Int, transaction: @escaping Transaction
    ) {
        jobs = WaitingJobs(maxWeight: maxWeight, weight: weight)
        self.transaction = transaction
    }

    /// How many jobs wait for a transaction (not counting those of the running one).
    var waitingCount: Int { jobs.count }

    /// Runs `job` in the next transaction and returns its output once that has committed.
    func run(_ job: Job) async throws -> Output {
        try await jobs.run(job) { Task { await self.drain() } }
    }

    /// Runs groups until no job waits.
    private func drain() async {
        while true {
            let group = jobs.take()
            guard !group.isEmpty else { return }
            do {
                let outputs = try await transaction(group.map(\.job))
                assert(outputs.count == group.count, "a group commit's transaction gives one output per job")
                for (item, output) in zip(group, outputs) { item.continuation.resume(returning: output) }
            } catch {
                guard group.count > 1 else {
                    group[0].continuation.resume(throwing: error)
                    continue
                }
                for item in group {
                    do {
                        let output = try await transaction([item.job])
                        item.continuation.resume(returning: output[0])
                    } catch {
                        item.continuation.resume(throwing: error)
                    }
                }
            }
        }
    }
}
