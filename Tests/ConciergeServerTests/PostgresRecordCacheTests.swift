import ConciergeCore
import Foundation
import Logging
import Synchronization
import Testing

@testable import ConciergeServer

/// The PostgreSQL push writer's record cache: a record another instance wrote is read again, and a
/// rolled-back group leaves nothing in it.
@Suite(.timeLimit(.minutes(2))) struct PostgresRecordCacheTests {
    struct Poisoned: Error {}

    static func connect(_ url: String, observer: any StoreObserver = NoObserver()) async throws
        -> PostgresServerStore
    {
        var logger = Logger(label: "record-cache")
        logger.logLevel = .warning
        return try await PostgresServerStore.connect(
            url: url, maxConnections: 4, recordCache: 100, logger: logger, options: .init(observer: observer))
    }

    static func setUp(_ store: PostgresServerStore) async throws -> [Caller] {
        try await store.createProvider(id: "acme", name: "ACME")
        try await store.createPrincipal(RecordCacheTests.sue)
        return try await store.enrolDevices(for: "sue", count: 2, name: "test").map {
            Caller(principal: RecordCacheTests.sue, replica: $0.replica)
        }
    }

    @Test func aRecordAnotherInstanceWroteIsReadAgain() async throws {
        let url = try await TestPostgres.freshDatabase()
        let first = try await Self.connect(url)
        let second = try await Self.connect(url)
        let callers = try await Self.setUp(first)
        var clock = HybridLogicalClock()
        var otherClock = HybridLogicalClock()
        let wall = RecordCacheTests.now
        let key = RecordKey(type: .serviceCase, id: "c1")
        _ = try await first.push(
            [
                RecordCacheTests.set(
                    callers[0], seq: 1, case: "c1", RecordCacheTests.opening("c1"), wall: wall, clock: &clock)
            ],
            from: callers[0], serverMillis: wall + 1_000)
        // The other instance writes a later priority...
        let written = try await second.push(
            [
                RecordCacheTests.set(
                    callers[1], seq: 1, case: "c1", [(CaseFields.priority, "urgent")], wall: wall + 20_000,
                    clock: &otherClock)
            ], from: callers[1], serverMillis: wall + 1_000)
        #expect(written.outcomes.map(\.status) == [.accepted])
        // ...and the first instance's earlier write merges with it, not with what it had cached.
        _ = try await first.push(
            [
                RecordCacheTests.set(
                    callers[0], seq: 2, case: "c1", [(CaseFields.priority, "high")], wall: wall + 1, clock: &clock)
            ],
            from: callers[0], serverMillis: wall + 1_000)
        #expect(try await first.record(key)?.value(CaseFields.priority)?.stringValue == "urgent")
        #expect(first.records.counts.hits == 0)
        // Once it knows the head again, its own writes are served from the cache.
        _ = try await first.push(
            [
                RecordCacheTests.set(
                    callers[0], seq: 3, case: "c1", [(CaseFields.category, "line")], wall: wall + 2, clock: &clock)
            ],
            from: callers[0], serverMillis: wall + 1_000)
        #expect(first.records.counts.hits == 1)
        await first.close()
        await second.close()
    }

    @Test func aRolledBackGroupLeavesNothingInTheCache() async throws {
        let url = try await TestPostgres.freshDatabase()
        let poisoned = Mutex<ReplicaID?>(nil)
        let observer = TestObserver(onBeforeCommit: { outcomes in
            if outcomes.contains(where: { $0.id.replica == poisoned.withLock({ $0 }) }) { throw Poisoned() }
        })
        let store = try await Self.connect(url, observer: observer)
        let callers = try await Self.setUp(store)
        poisoned.withLock { $0 = callers[1].replica }
        var clock = HybridLogicalClock()
        var later = HybridLogicalClock()
        let wall = RecordCacheTests.now
        _ = try await store.push(
            [
                RecordCacheTests.set(
                    callers[0], seq: 1, case: "c1", RecordCacheTests.opening("c1"), wall: wall, clock: &clock)
            ],
            from: callers[0], serverMillis: wall + 1_000)
        await #expect(throws: (any Error).self) {
            try await store.push(
                [
                    RecordCacheTests.set(
                        callers[1], seq: 1, case: "c1", [(CaseFields.priority, "poison")], wall: wall + 30_000,
                        clock: &later)
                ], from: callers[1], serverMillis: wall + 1_000)
        }
        let accepted = try await store.push(
            [
                RecordCacheTests.set(
                    callers[0], seq: 2, case: "c1", [(CaseFields.priority, "high")], wall: wall + 1, clock: &clock)
            ],
            from: callers[0], serverMillis: wall + 1_000)
        #expect(accepted.outcomes.map(\.status) == [.accepted])
        #expect(store.records.counts.hits >= 1)
        let stored = try await store.record(RecordKey(type: .serviceCase, id: "c1"))
        #expect(stored?.value(CaseFields.priority)?.stringValue == "high")
        await store.close()
    }
}
