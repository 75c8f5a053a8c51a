import Synchronization

/// Jobs waiting for a transaction, each with the continuation of the call that waits for its
/// output, and whether something is taking groups of them. Push lines take their groups here.
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
