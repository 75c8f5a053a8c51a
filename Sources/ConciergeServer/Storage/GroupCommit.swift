import Synchronization

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
    private let weight: @Sendable (Job) -> Int
    private let maxWeight: Int
    private let state = Mutex(State())

    private struct Waiting {
        var job: Job
        var continuation: CheckedContinuation<Output, any Error>
    }

    private struct State {
        var waiting: [Waiting] = []
        var running = false
    }

    /// - Parameters:
    ///   - maxWeight: a group holds jobs up to this total weight (at least one job).
    ///   - weight: a job's weight (for pushes, its change sets).
    ///   - transaction: runs a group.
    init(
        maxWeight: Int, weight: @escaping @Sendable (Job) -> Int, transaction: @escaping Transaction
    ) {
        self.maxWeight = maxWeight
        self.weight = weight
        self.transaction = transaction
    }

    /// How many jobs wait for a transaction (not counting those of the running one).
    var waitingCount: Int { state.withLock { $0.waiting.count } }

    /// Runs `job` in the next transaction and returns its output once that has committed.
    func run(_ job: Job) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let start = state.withLock { state -> Bool in
                state.waiting.append(Waiting(job: job, continuation: continuation))
                guard !state.running else { return false }
                state.running = true
                return true
            }
            if start { Task { await self.drain() } }
        }
    }

    /// Runs groups until no job waits.
    private func drain() async {
        while true {
            let group = state.withLock { state -> [Waiting] in
                var total = 0
                var count = 0
                for item in state.waiting {
                    total += weight(item.job)
                    guard count == 0 || total <= maxWeight else { break }
                    count += 1
                }
                if count == 0 { state.running = false }
                defer { state.waiting.removeFirst(count) }
                return Array(state.waiting.prefix(count))
            }
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
