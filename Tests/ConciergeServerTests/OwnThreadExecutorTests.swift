import Foundation
import Testing

@testable import ConciergeServer

/// The push line's checks run on a thread of their own: tasks that prefer the executor run there,
/// in order, and the thread ends when idle and starts again with the next job.
@Suite struct OwnThreadExecutorTests {
    @Test func tasksRunOnItsThreadInOrderAndItStartsAgainAfterIdling() async throws {
        let executor = OwnThreadExecutor(name: "own-thread-test", idleTimeout: 0.05)
        let ran = await Task(executorPreference: executor) { () -> (Bool, [Int]) in
            // A task's jobs after a suspension come back to the same thread.
            var order: [Int] = []
            for step in 0..<5 {
                await Task.yield()
                order.append(step)
            }
            return (executor.isCurrent, order)
        }.value
        #expect(ran.0)
        #expect(ran.1 == [0, 1, 2, 3, 4])
        #expect(executor.threads.started == 1)

        // Idle for longer than its timeout: the thread ends (waiting up to 5 s for it).
        let deadline = Date(timeIntervalSinceNow: 5)
        while executor.threads.running && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(executor.threads.running == false)

        let again = await Task(executorPreference: executor) { executor.isCurrent }.value
        #expect(again)
        #expect(executor.threads.started == 2)
    }
}
