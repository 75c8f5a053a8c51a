import ConciergeCore
import Foundation
import Logging
import Synchronization
import Testing

@testable import ConciergeServer

/// The SQLite writer's record cache: only committed states enter it, another connection's commit
/// empties it, and with it or without it the same pushes store the same records.
@Suite struct RecordCacheTests {
    struct Poisoned: Error {}

    static let sue = Principal(id: "sue", provider: "acme", role: .supervisor, displayName: "Sue")

    /// A fresh store in a temporary folder, with Sue (a supervisor) and her devices.
    static func store(
        capacity: Int, devices: Int = 2, beforeCommit: (@Sendable ([PushOutcome]) throws -> Void)? = nil,
        afterCheck: (@Sendable ([PushOutcome]) -> Void)? = nil, path: String? = nil
    ) async throws -> (SQLiteServerStore, [Caller], String) {
        let path =
            path
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("record-cache-\(UUID()).sqlite").path
        var logger = Logger(label: "record-cache")
        logger.logLevel = .warning
        let store = try SQLiteServerStore(
            path: path, recordCache: capacity,
            observer: TestObserver(onChecked: afterCheck, onBeforeCommitBlocking: beforeCommit), logger: logger)
        try await store.createProvider(id: "acme", name: "ACME")
        try await store.createPrincipal(sue)
        let callers = try await store.enrolDevices(for: "sue", count: devices, name: "test").map {
            Caller(principal: sue, replica: $0.replica)
        }
        return (store, callers, path)
    }

    static var now: UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }

    /// One set of `caller` writing `fields` of case `id` at `wall` (its stamps tick from there).
    static func set(
        _ caller: Caller, seq: UInt64, case id: String, _ fields: [(String, Value)], wall: UInt64,
        clock: inout HybridLogicalClock, append note: String? = nil
    ) -> ChangeSet {
        let key = RecordKey(type: .serviceCase, id: RecordID(id))
        var changes = fields.map { field, value in
            let declaration = Schema.current.declaration(of: field, on: .serviceCase)
            return RecordChange(
                key,
                .write(
                    field: field, value: value, base: nil,
                    stamp: Stamp(hlc: clock.tick(wallMillis: wall), replica: caller.replica),
                    history: declaration?.history ?? false, personal: declaration?.personal ?? false))
        }
        if let note {
            changes.append(
                RecordChange(
                    key,
                    .append(
                        field: CaseFields.timeline,
                        entry: NewEntry(
                            id: EntryID(note), stamp: Stamp(hlc: clock.tick(wallMillis: wall), replica: caller.replica),
                            kind: EntryKind.note, personal: ["body": .string(note)]))))
        }
        return ChangeSet(
            id: ChangeSetID(replica: caller.replica, seq: seq), author: sue.author, schemaVersion: 1, changes: changes)
    }

    static func opening(_ id: String) -> [(String, Value)] {
        [
            (CaseFields.provider, "acme"), (CaseFields.customer, "cust-1"), (CaseFields.subject, "Line drops"),
            (CaseFields.priority, "normal"),
        ]
    }

    @Test func aRolledBackGroupLeavesNothingInTheCache() async throws {
        let poisoned = Mutex<ReplicaID?>(nil)
        let (store, callers, _) = try await Self.store(capacity: 100, devices: 2) { outcomes in
            if outcomes.contains(where: { $0.id.replica == poisoned.withLock({ $0 }) }) { throw Poisoned() }
        }
        poisoned.withLock { $0 = callers[1].replica }
        var clock = HybridLogicalClock()
        let wall = Self.now
        let opened = try await store.push(
            [Self.set(callers[0], seq: 1, case: "c1", Self.opening("c1"), wall: wall, clock: &clock)],
            from: callers[0], serverMillis: wall + 1_000)
        #expect(opened.outcomes.map(\.status) == [.accepted])
        // The poisoned device writes a priority stamped later than anything else: merged, written,
        // then rolled back with its group.
        var later = HybridLogicalClock()
        await #expect(throws: (any Error).self) {
            try await store.push(
                [
                    Self.set(
                        callers[1], seq: 1, case: "c1", [(CaseFields.priority, "poison")], wall: wall + 30_000,
                        clock: &later)
                ],
                from: callers[1], serverMillis: wall + 1_000)
        }
        // A write stamped before it merges with what was committed, not with what was rolled back.
        let accepted = try await store.push(
            [Self.set(callers[0], seq: 2, case: "c1", [(CaseFields.priority, "high")], wall: wall + 1, clock: &clock)],
            from: callers[0], serverMillis: wall + 1_000)
        #expect(accepted.outcomes.map(\.status) == [.accepted])
        let stored = try await store.record(RecordKey(type: .serviceCase, id: "c1"))
        #expect(stored?.value(CaseFields.priority)?.stringValue == "high")
        await store.close()
    }

    @Test func anotherConnectionsCommitEmptiesTheCache() async throws {
        let (store, callers, path) = try await Self.store(capacity: 100, devices: 2)
        var clock = HybridLogicalClock()
        let wall = Self.now
        _ = try await store.push(
            [Self.set(callers[0], seq: 1, case: "c1", Self.opening("c1"), wall: wall, clock: &clock)],
            from: callers[0], serverMillis: wall + 1_000)
        // Another connection to the same file (an admin command, say) writes a later priority.
        var logger = Logger(label: "other")
        logger.logLevel = .warning
        let other = try SQLiteServerStore(path: path, recordCache: 100, logger: logger)
        var otherClock = HybridLogicalClock()
        let written = try await other.push(
            [
                Self.set(
                    callers[1], seq: 1, case: "c1", [(CaseFields.priority, "urgent")], wall: wall + 20_000,
                    clock: &otherClock)
            ], from: callers[1], serverMillis: wall + 1_000)
        #expect(written.outcomes.map(\.status) == [.accepted])
        await other.close()
        // This store's earlier write must merge with it, not with the state it had cached.
        _ = try await store.push(
            [Self.set(callers[0], seq: 2, case: "c1", [(CaseFields.priority, "high")], wall: wall + 1, clock: &clock)],
            from: callers[0], serverMillis: wall + 1_000)
        let stored = try await store.record(RecordKey(type: .serviceCase, id: "c1"))
        #expect(stored?.value(CaseFields.priority)?.stringValue == "urgent")
        #expect(store.records.counts.drops >= 1)
        await store.close()
    }

    /// The same random pushes into a store without a cache and into one whose cache holds two
    /// records (so records keep leaving and coming back): the same outcomes, the same records.
    @Test(arguments: [UInt64(11), 23, 47])
    func pushesStoreTheSameRecordsWithOrWithoutTheCache(seed: UInt64) async throws {
        let (plain, callers, _) = try await Self.store(capacity: 0, devices: 3)
        // The same database (devices, epoch) under a store that caches.
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("record-cache-\(UUID()).sqlite").path
        try plain.backup(to: copy)
        var logger = Logger(label: "record-cache")
        logger.logLevel = .warning
        let cached = try SQLiteServerStore(path: copy, recordCache: 2, logger: logger)
        var random = SplitMix64(seed: seed)
        let ids = (0..<6).map { "case-\($0)" }
        let fields: [(String, [Value])] = [
            (CaseFields.priority, ["low", "normal", "high", "urgent"]), (CaseFields.category, ["billing", "line"]),
            (CaseFields.summary, ["a", "b", "c"]), (CaseFields.subject, ["S1", "S2"]),
            (CaseFields.queue, ["first-line", "second-line"]), (CaseFields.requiredSkill, ["dsl", "fibre"]),
        ]
        var clocks = [HybridLogicalClock](repeating: HybridLogicalClock(), count: 3)
        var seqs = [UInt64](repeating: 0, count: 3)
        let wall = Self.now
        var batches: [(device: Int, sets: [ChangeSet])] = []
        // Every case opened first, then batches of random writes and notes from random devices,
        // stamped up to a second apart so that devices' writes interleave and overtake each other.
        for (index, id) in ids.enumerated() {
            seqs[0] += 1
            batches.append(
                (
                    0,
                    [
                        Self.set(
                            callers[0], seq: seqs[0], case: id, Self.opening(id), wall: wall + UInt64(index),
                            clock: &clocks[0])
                    ]
                ))
        }
        for step in 0..<60 {
            let device = Int(random.next() % 3)
            var sets: [ChangeSet] = []
            for _ in 0..<(1 + random.next() % 4) {
                seqs[device] += 1
                let id = ids[Int(random.next() % UInt64(ids.count))]
                var written: [(String, Value)] = []
                for _ in 0..<(1 + random.next() % 3) {
                    let (field, values) = fields[Int(random.next() % UInt64(fields.count))]
                    if !written.contains(where: { $0.0 == field }) {
                        written.append((field, values[Int(random.next() % UInt64(values.count))]))
                    }
                }
                let note = random.next() % 4 == 0 ? "note-\(device)-\(step)-\(seqs[device])" : nil
                sets.append(
                    Self.set(
                        callers[device], seq: seqs[device], case: id, written,
                        wall: wall + 100 + random.next() % 1_000, clock: &clocks[device], append: note))
            }
            batches.append((device, sets))
        }
        for (device, sets) in batches {
            let a = try await plain.push(sets, from: callers[device], serverMillis: wall + 2_000)
            let b = try await cached.push(sets, from: callers[device], serverMillis: wall + 2_000)
            #expect(a.outcomes == b.outcomes)
            #expect(a.outcomes.allSatisfy { $0.status == .accepted })
        }
        #expect(cached.records.counts.misses > ids.count)
        for id in ids {
            let key = RecordKey(type: .serviceCase, id: RecordID(id))
            let a = try await plain.record(key)
            let b = try await cached.record(key)
            #expect(a != nil && a == b, "\(id)")
        }
        await plain.close()
        await cached.close()
    }
}
