import ConciergeCore
import Foundation
import GRDB
import Logging
import Synchronization
import Testing

@testable import ConciergeServer

/// Group commit and the background checkpoint of the SQLite engine.
@Suite struct WriteBatchingTests {
    struct Failure: Error {}

    /// Jobs of the test's group commit: a number, and whether its write fails.
    struct Job: Sendable {
        var number: Int
        var fails = false
    }

    /// Records every transaction's jobs; the first waits until `release` is called.
    final class Transactions: Sendable {
        let groups = Mutex<[[Int]]>([])
        let held = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let holding = AsyncStream<Void>.makeStream()

        func run(_ jobs: [Job]) async throws -> [Int] {
            let first = groups.withLock { groups in
                groups.append(jobs.map(\.number))
                return groups.count == 1
            }
            if first {
                await withCheckedContinuation { continuation in
                    held.withLock { $0 = continuation }
                    holding.continuation.yield()
                }
            }
            if jobs.contains(where: \.fails) { throw Failure() }
            return jobs.map { $0.number * 10 }
        }

        func release() { held.withLock { $0?.resume() } }
    }

    @Test func pushesArrivingDuringATransactionShareTheNextAndAFailureTakesNoOtherJobWithIt() async throws {
        let transactions = Transactions()
        let commit = GroupCommit<Job, Int>(maxWeight: 3, weight: { _ in 1 }, transaction: transactions.run)
        let first = Task { try await commit.run(Job(number: 1)) }
        var waiting = transactions.holding.stream.makeAsyncIterator()
        _ = await waiting.next()  // the first transaction runs, and is held
        // Four jobs arrive meanwhile: three share the next transaction (the weight limit), one of
        // them fails, the fourth waits for the one after.
        let later = [Job(number: 2), Job(number: 3, fails: true), Job(number: 4), Job(number: 5)]
        var tasks: [Task<Int, any Error>] = []
        for job in later {
            tasks.append(Task { try await commit.run(job) })
            // Queued in order: each task is waiting before the next starts.
            while commit.waitingCount < tasks.count { await Task.yield() }
        }
        transactions.release()
        #expect(try await first.value == 10)
        #expect(try await tasks[0].value == 20)
        await #expect(throws: Failure.self) { try await tasks[1].value }
        #expect(try await tasks[2].value == 40)
        #expect(try await tasks[3].value == 50)
        // The group of three failed as a whole and ran again one job at a time.
        #expect(transactions.groups.withLock { $0 } == [[1], [2, 3, 4], [2], [3], [4], [5]])
    }

    @Test func theDatabaseFileItselfHoldsWhatWasCommittedOnceTheCheckpointRan() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("concierge-wal-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("concierge.sqlite").path
        let store = try SQLiteServerStore(path: path, logger: Logger(label: "test"))
        try await store.createProvider(id: "acme", name: "Acme")
        await store.close()  // waits for the checkpoint the write started
        // Only the database file, without its log: the checkpoint copied the write into it (the
        // writer's own checkpoint would wait for thousands of pages).
        let copy = folder.appendingPathComponent("copy.sqlite").path
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        let names = try await DatabaseQueue(path: copy).read {
            try String.fetchAll($0, sql: "SELECT name FROM provider")
        }
        #expect(names == ["Acme"])
    }
}
