import ConciergeCore
import Foundation
import Logging
import Synchronization
import Testing

@testable import ConciergeServer

/// Both engines' push lines check a group against the rows of the group being written before it
/// (not committed yet): the later group must see those rows, and when that group does not commit,
/// what was checked against it must not commit either.
@Suite(.timeLimit(.minutes(2))) struct PushLineTests {
    /// What two consecutive groups answered, and case c1 as stored afterwards.
    struct Pushed {
        var first: Result<[PushOutcome], any Error>
        var second: [PushOutcome]
        var stored: Record?
    }

    /// A fresh store of `engine` with Sue (a supervisor) and three of her devices, and how many
    /// batches wait for its push line. `beforeCommit` runs inside each push transaction, after its
    /// writes, and may block there (on PostgreSQL, off the concurrency pool's few threads).
    static func store(
        _ engine: Engine, beforeCommit: @escaping @Sendable ([PushOutcome]) throws -> Void,
        afterCheck: @escaping @Sendable ([PushOutcome]) -> Void
    ) async throws -> (any ServerStore, [Caller], waiting: @Sendable () -> Int) {
        switch engine {
        case .sqlite:
            let (store, callers, _) = try await RecordCacheTests.store(
                capacity: 100, devices: 3, beforeCommit: beforeCommit, afterCheck: afterCheck)
            return (store, callers, { store.pushes.waitingCount })
        case .postgres:
            let observer = TestObserver(
                onChecked: afterCheck,
                onBeforeCommit: { outcomes in
                    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                        DispatchQueue.global().async {
                            continuation.resume(with: Result { try beforeCommit(outcomes) })
                        }
                    }
                })
            var logger = Logger(label: "push-line")
            logger.logLevel = .warning
            let store = try await PostgresServerStore.connect(
                url: try await TestPostgres.freshDatabase(), maxConnections: 4, recordCache: 100, logger: logger,
                options: .init(observer: observer))
            try await store.createProvider(id: "acme", name: "ACME")
            try await store.createPrincipal(RecordCacheTests.sue)
            let callers = try await store.enrolDevices(for: "sue", count: 3, name: "test").map {
                Caller(principal: RecordCacheTests.sue, replica: $0.replica)
            }
            return (store, callers, { store.pushes.waitingCount })
        }
    }

    /// Opens case c1, then pushes `first` (one set, from one device) and `second` (a full group's
    /// worth of sets on c1 from another, starting with `second`) so that they form two groups,
    /// the second checked while the first is being written. With `poisoned`, the first group's
    /// transaction fails; with `note`, both first sets also append an entry of that id.
    static func twoGroups(
        _ engine: Engine, first: (String, Value), stampedAfter firstOffset: UInt64, second: (String, Value),
        poisoned: Bool,
        appending note: String? = nil
    ) async throws -> Pushed {
        let release = DispatchSemaphore(value: 0)
        let secondChecked = DispatchSemaphore(value: 0)
        let (entered, enteredContinuation) = AsyncStream<Void>.makeStream()
        let roles = Mutex<(blocker: ReplicaID?, first: ReplicaID?, second: ReplicaID?)>((nil, nil, nil))
        let (store, callers, waiting) = try await Self.store(
            engine,
            beforeCommit: { outcomes in
                let roles = roles.withLock { $0 }
                // Hold the writer (this runs inside the transaction) until the next batches wait,
                // then the first group until the second has been checked against its rows.
                if outcomes.contains(where: { $0.id.replica == roles.blocker }) {
                    enteredContinuation.yield()
                    release.wait()
                }
                if outcomes.contains(where: { $0.id.replica == roles.first }) {
                    secondChecked.wait()
                    if poisoned { throw RecordCacheTests.Poisoned() }
                }
            },
            afterCheck: { outcomes in
                let second = roles.withLock { $0.second }
                if outcomes.contains(where: { $0.id.replica == second && $0.id.seq == 2 }) {
                    secondChecked.signal()
                }
            })
        let (writer, other, blocker) = (callers[0], callers[1], callers[2])
        roles.withLock { $0 = (blocker.replica, other.replica, writer.replica) }
        let wall = RecordCacheTests.now
        var clock = HybridLogicalClock()
        let opening = [
            RecordCacheTests.set(writer, seq: 1, case: "c1", RecordCacheTests.opening("c1"), wall: wall, clock: &clock)
        ]
        #expect(try await store.push(opening, from: writer, serverMillis: wall + 1_000).outcomes[0].status == .accepted)

        var blockerClock = HybridLogicalClock()
        let blocking = [
            RecordCacheTests.set(
                blocker, seq: 1, case: "c2", RecordCacheTests.opening("c2"), wall: wall, clock: &blockerClock)
        ]
        let held = Task { try await store.push(blocking, from: blocker, serverMillis: wall + 1_000) }
        for await _ in entered { break }
        var otherClock = HybridLogicalClock()
        let firstSets = [
            RecordCacheTests.set(
                other, seq: 1, case: "c1", [first], wall: wall + firstOffset, clock: &otherClock, append: note)
        ]
        var secondSets = [
            RecordCacheTests.set(writer, seq: 2, case: "c1", [second], wall: wall + 1, clock: &clock, append: note)
        ]
        for seq in 3...UInt64(PushJob.groupSets + 1) {
            secondSets.append(
                RecordCacheTests.set(
                    writer, seq: seq, case: "c1", [(CaseFields.category, "billing")], wall: wall + 1, clock: &clock))
        }
        let firstPush = Task { try await store.push(firstSets, from: other, serverMillis: wall + 1_000) }
        try await Self.waitUntil { waiting() >= 1 }
        let secondPush = Task { try await store.push(secondSets, from: writer, serverMillis: wall + 1_000) }
        try await Self.waitUntil { waiting() >= 2 }
        // Both wait: the first forms a group of its own (the second does not fit in it), and the
        // second is checked while the first is being written.
        release.signal()
        #expect(try await held.value.outcomes[0].status == .accepted)
        let firstResult: Result<[PushOutcome], any Error>
        do { firstResult = .success(try await firstPush.value.outcomes) } catch { firstResult = .failure(error) }
        let second = try await secondPush.value.outcomes
        let stored = try await store.record(RecordKey(type: .serviceCase, id: "c1"))
        await store.close()
        return Pushed(first: firstResult, second: second, stored: stored)
    }

    struct TimedOut: Error {}

    /// Polls until `condition` holds (a batch has reached the line's queue), for at most 30 s.
    /// Between polls it sleeps instead of yielding: tests running beside it need the few threads.
    static func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw TimedOut() }
            try await Task.sleep(for: .milliseconds(1))  // polling a condition, not a sleep as sync
        }
    }

    @Test(arguments: Engine.allCases) func aGroupSeesTheRowsOfTheGroupBeingWritten(_ engine: Engine) async throws {
        // The first group's priority is stamped later: it must win over the second's, which was
        // merged before the first committed.
        let pushed = try await Self.twoGroups(
            engine, first: (CaseFields.priority, "urgent"), stampedAfter: 30_000, second: (CaseFields.priority, "high"),
            poisoned: false)
        #expect((try? pushed.first.get())?.map(\.status) == [.accepted])
        #expect(pushed.second.allSatisfy { $0.status == .accepted })
        #expect(pushed.stored?.value(CaseFields.priority)?.stringValue == "urgent")
    }

    @Test(arguments: Engine.allCases) func aGroupCheckedAgainstOneThatFailsIsCheckedAgain(_ engine: Engine)
        async throws
    {
        // The failed group's subject is stamped later: had the second group committed what it
        // merged with it, the subject would be the poisoned one.
        let pushed = try await Self.twoGroups(
            engine, first: (CaseFields.subject, "poison"), stampedAfter: 30_000, second: (CaseFields.subject, "calm"),
            poisoned: true)
        #expect(throws: (any Error).self) { try pushed.first.get() }
        #expect(pushed.second.allSatisfy { $0.status == .accepted })
        #expect(pushed.stored?.value(CaseFields.subject)?.stringValue == "calm")
    }

    @Test(arguments: Engine.allCases) func aGroupSeesTheEntriesOfTheGroupBeingWritten(_ engine: Engine)
        async throws
    {
        // Both append an entry of the same id; the first group's is stamped earlier, so it stays
        // (the earliest stamp of an entry wins), as it does when the first has committed.
        let pushed = try await Self.twoGroups(
            engine, first: (CaseFields.priority, "urgent"), stampedAfter: 0, second: (CaseFields.priority, "high"),
            poisoned: false, appending: "n1")
        let first = try pushed.first.get()
        #expect(first.map(\.status) == [.accepted])
        #expect(pushed.second.allSatisfy { $0.status == .accepted })
        guard case .log(let timeline)? = pushed.stored?.fields[CaseFields.timeline]?.state else {
            Issue.record("case c1 has no timeline")
            return
        }
        #expect(timeline.entries[EntryID("n1")]?.stamp.replica == first[0].id.replica)
    }
}
