import ConciergeCore
import Foundation
import Testing

/// A small stand-in for the server, until the real one exists: accepts or refuses sets by a
/// policy, numbers the log, serves pages of at most `limit` sets.
class TestHub: SyncTransport, @unchecked Sendable {
    let lock = NSLock()
    var epoch = "e1"
    var log: [ChangeSet] = []
    var outcomes: [ChangeSetID: PushOutcome] = [:]
    var refuse: @Sendable (ChangeSet) -> SyncError? = { _ in nil }
    var failures: [SyncError] = []
    var pushes = 0

    func push(_ request: PushRequest) async throws -> PushResponse {
        try lock.withLock {
            if !failures.isEmpty { throw failures.removeFirst() }
            pushes += 1
            return PushResponse(
                outcomes: request.changeSets.map { set in
                    if let stored = outcomes[set.id] {
                        guard stored.status == .accepted else { return stored }
                        return .duplicate(set.id, at: Cursor(epoch: epoch, seq: stored.position!.seq))
                    }
                    if let error = refuse(set) {
                        let outcome = PushOutcome.rejected(set.id, error)
                        if !error.isRetryable { outcomes[set.id] = outcome }
                        return outcome
                    }
                    log.append(set)
                    let outcome = PushOutcome.accepted(set.id, at: Cursor(epoch: epoch, seq: UInt64(log.count)))
                    outcomes[set.id] = outcome
                    return outcome
                }, serverMillis: 0)
        }
    }

    func pull(_ request: PullRequest) async throws -> PullResponse {
        try lock.withLock {
            if !failures.isEmpty { throw failures.removeFirst() }
            guard let cursor = request.cursor, cursor.epoch == epoch else {
                if request.cursor == nil { return page(from: 0, limit: request.limit) }
                var records: [RecordKey: Record] = [:]
                for set in log { try set.apply(to: &records) }
                return .reset(
                    ResetSnapshot(
                        records: Array(records.values), cursor: Cursor(epoch: epoch, seq: UInt64(log.count)),
                        reason: "epochChanged"))
            }
            return page(from: Int(cursor.seq), limit: request.limit)
        }
    }

    /// The server restored from a backup holding only the first `count` sets: a new epoch.
    func restore(keepingFirst count: Int) {
        lock.withLock {
            for set in log[count...] { outcomes[set.id] = nil }
            log.removeSubrange(count...)
            epoch += "'"
        }
    }

    func page(from: Int, limit: Int) -> PullResponse {
        let end = min(log.count, from + limit)
        return .page(
            PullPage(
                events: log[from..<end].map(PullEvent.changeSet), cursor: Cursor(epoch: epoch, seq: UInt64(end)),
                hasMore: end < log.count))
    }
}

@Suite struct SyncTests {
    static let agent = Author(principal: "agent-1", role: .agent)
    static let key = RecordKey(type: .serviceCase, id: "11111111-2222-4333-8444-555555555555")
    let clock = ManualWallClock(1_800_000_000_000)

    func makeReplica(_ author: Author = agent) -> Replica<InMemoryReplicaStore> {
        Replica(store: InMemoryReplicaStore(replica: .random(), author: author), wallClock: clock)
    }

    func engine(_ replica: Replica<InMemoryReplicaStore>, _ hub: TestHub, sleeps: SleepLog = SleepLog()) -> SyncEngine<
        InMemoryReplicaStore
    > {
        var configuration = SyncMachine.Configuration()
        configuration.pullLimit = 2
        return SyncEngine(replica: replica, transport: hub, configuration: configuration, sleep: { sleeps.append($0) })
    }

    /// confirmed state merged with every outbox set, computed independently of `visibleRecord`.
    func expectedVisible(_ replica: Replica<InMemoryReplicaStore>) throws -> Record? {
        try replica.store.read { reader in
            var record = try reader.confirmedRecord(Self.key)
            for item in try reader.outbox() {
                var current = record ?? Record(key: Self.key)
                for change in item.changeSet.changes where change.key == Self.key {
                    try current.apply(change.change, by: item.changeSet.author)
                }
                record = current
            }
            return record
        }
    }

    @Test func finalRejectionLeavesConfirmedStatePlusRemainingOutbox() async throws {
        let hub = TestHub()
        let replica = makeReplica()
        try replica.edit { try $0.write("normal", to: CaseFields.priority, of: Self.key) }
        _ = try await engine(replica, hub).sync()
        clock.advance(10)
        let refused = try #require(try replica.edit { try $0.write("urgent", to: CaseFields.priority, of: Self.key) })
        try replica.edit { try $0.add("vip", to: CaseFields.tags, of: Self.key) }
        #expect(try replica.visibleRecord(Self.key)?.value(CaseFields.priority) == "urgent")
        hub.refuse = { $0.id == refused.id ? SyncError(.forbiddenField, "agents may not set priority here") : nil }
        let report = try await engine(replica, hub).sync()
        #expect(report.rejected.map(\.changeSet.id) == [refused.id])
        #expect(report.rejected.first?.error.code == .forbiddenField)
        #expect(try replica.rejected().map(\.changeSet.id) == [refused.id])
        #expect(try replica.outbox().isEmpty)
        let visible = try #require(try replica.visibleRecord(Self.key))
        #expect(visible.value(CaseFields.priority) == "normal")
        #expect(visible.set(CaseFields.tags)?.elements == ["vip"])
        #expect(visible == (try expectedVisible(replica)))
    }

    @Test func finalRejectionWithPendingSetsKeepsThemVisible() throws {
        let replica = makeReplica()
        let first = try #require(try replica.edit { try $0.write("a", to: CaseFields.summary, of: Self.key) })
        _ = try replica.nextPushBatch(limit: 10)  // sent: no longer coalesced
        try replica.edit { try $0.write("b", to: CaseFields.category, of: Self.key) }
        _ = try replica.applyPushResponse(
            PushResponse(outcomes: [.rejected(first.id, SyncError(.outOfScope, "no"))], serverMillis: 0))
        let visible = try #require(try replica.visibleRecord(Self.key))
        #expect(visible.value(CaseFields.summary) == nil)
        #expect(visible.value(CaseFields.category) == "b")
        #expect(visible == (try expectedVisible(replica)))
    }

    @Test func duplicateForAnAcceptedSetCountsAsSuccess() async throws {
        let hub = TestHub()
        let replica = makeReplica()
        let set = try #require(try replica.edit { try $0.add("billing", to: CaseFields.tags, of: Self.key) })
        // The server accepted the set but the answer was lost: the replica pushes it again.
        _ = try await hub.push(PushRequest(changeSets: [set]))
        let report = try await engine(replica, hub).sync()
        #expect(report.accepted == 1)
        #expect(report.rejected.isEmpty)
        #expect(try replica.outbox().isEmpty)
        #expect(hub.log.count == 1)
        #expect(
            try replica.store.read { try $0.confirmedRecord(Self.key) }?.set(CaseFields.tags)?.elements == ["billing"])
    }

    @Test func clockSkewRestampsAndKeepsTheSetAndItsReferences() throws {
        let replica = makeReplica()
        let add = try #require(try replica.edit { try $0.add("vip", to: CaseFields.tags, of: Self.key) })
        let remove = try #require(try replica.edit { try $0.remove("vip", from: CaseFields.tags, of: Self.key) })
        _ = try replica.nextPushBatch(limit: 10)
        clock.advance(5_000)
        let summary = try replica.applyPushResponse(
            PushResponse(outcomes: [.rejected(add.id, SyncError(.clockSkew, "ahead"))], serverMillis: 0))
        #expect(summary.retrying.map(\.changeSet.id) == [add.id])
        let outbox = try replica.outbox()
        #expect(outbox.map(\.id) == [add.id, remove.id])
        let newAdd = outbox[0].changeSet.changes[0].change.stamp
        #expect(newAdd != add.changes[0].change.stamp)
        #expect(newAdd.hlc.millis == clock.nowMillis())
        guard case .remove(_, _, let observed, _) = outbox[1].changeSet.changes[0].change else {
            Issue.record("expected a remove")
            return
        }
        #expect(observed == [newAdd])
        #expect(try replica.visibleRecord(Self.key)?.set(CaseFields.tags)?.elements == [])
        #expect(try replica.rejected().isEmpty)
    }

    @Test func restampNeverTouchesASetAcceptedInTheSameAnswer() throws {
        let replica = makeReplica()
        let skewed = try #require(try replica.edit { try $0.add("a", to: CaseFields.tags, of: Self.key) })
        let accepted = try #require(try replica.edit { try $0.add("b", to: CaseFields.tags, of: Self.key) })
        let later = try #require(try replica.edit { try $0.add("c", to: CaseFields.tags, of: Self.key) })
        _ = try replica.nextPushBatch(limit: 10)
        clock.advance(1_000)
        _ = try replica.applyPushResponse(
            PushResponse(
                outcomes: [
                    .rejected(skewed.id, SyncError(.clockSkew, "ahead")),
                    .accepted(accepted.id, at: Cursor(epoch: "e1", seq: 1)),
                ], serverMillis: 0))
        let outbox = Dictionary(uniqueKeysWithValues: try replica.outbox().map { ($0.id, $0) })
        #expect(outbox[accepted.id]?.changeSet == accepted)  // as the server accepted it
        #expect(outbox[accepted.id]?.isAcknowledged == true)
        #expect(outbox[skewed.id]?.changeSet != skewed)
        #expect(outbox[later.id]?.changeSet != later)  // later unacknowledged sets are restamped too
        #expect(
            outbox[later.id]!.changeSet.changes[0].change.stamp > outbox[skewed.id]!.changeSet.changes[0].change.stamp)
    }

    @Test func leaveDropsTheRecordAndRejectsItsPendingSets() throws {
        let replica = makeReplica(Author(principal: "tech-1", role: .technician))
        _ = try replica.applyPullResponse(
            .page(
                PullPage(
                    events: [.enter(Self.record(priority: "high"))], cursor: Cursor(epoch: "e1", seq: 3), hasMore: false
                )))
        #expect(try replica.visibleRecord(Self.key)?.value(CaseFields.priority) == "high")
        let pending = try #require(
            try replica.edit { try $0.write("done on site", to: CaseFields.summary, of: Self.key) })
        let summary = try replica.applyPullResponse(
            .page(PullPage(events: [.leave(Self.key)], cursor: Cursor(epoch: "e1", seq: 4), hasMore: false)))
        #expect(try replica.visibleRecord(Self.key) == nil)
        #expect(summary.rejected.map(\.changeSet.id) == [pending.id])
        #expect(try replica.rejected().first?.error.code == .leftScope)
        #expect(try replica.outbox().isEmpty)
    }

    @Test func aPagedSnapshotKeepsAcknowledgedWorkVisibleUntilItsRecordArrives() throws {
        let replica = makeReplica()
        let set = try #require(try replica.edit { try $0.write("urgent", to: CaseFields.summary, of: Self.key) })
        _ = try replica.nextPushBatch(limit: 10)
        _ = try replica.applyPushResponse(
            PushResponse(outcomes: [.accepted(set.id, at: Cursor(epoch: "e1", seq: 5))], serverMillis: 0))
        // The first page of a snapshot taken at 9 holds other records; this one comes later.
        let other = Record(key: RecordKey(type: .serviceCase, id: "other"))
        let first = try replica.applyPullResponse(
            .reset(ResetSnapshot(records: [other], cursor: Cursor(epoch: "e1", seq: 9), reason: "initial", more: "t")))
        #expect(first.hasMore)
        #expect(try replica.visibleRecord(Self.key)?.value(CaseFields.summary) == "urgent")
        var arrived = Record(key: Self.key)
        try set.apply(to: &arrived)
        _ = try replica.applyPullResponse(
            .reset(
                ResetSnapshot(
                    records: [arrived], cursor: Cursor(epoch: "e1", seq: 9), reason: "initial", continues: true)))
        #expect(try replica.visibleRecord(Self.key)?.value(CaseFields.summary) == "urgent")
        #expect(try replica.outbox().isEmpty)  // delivered now
        #expect(try replica.metadata().snapshot == nil)
        #expect(try replica.store.read { try $0.confirmedKeys().count } == 2)
    }

    static func record(priority: Value) -> Record {
        var record = Record(key: key)
        let replica = ReplicaID("99999999-0000-4000-8000-000000000000")!
        try! record.apply(
            .write(
                field: CaseFields.priority, value: priority, base: nil,
                stamp: Stamp(hlc: HLC(millis: 1_800_000_000_000), replica: replica), history: true, personal: false),
            by: agent)
        return record
    }

    @Test func pullAdvancesTheClockPastReceivedStamps() throws {
        let replica = makeReplica()
        var future = Record(key: Self.key)
        let far = HLC(millis: clock.nowMillis() + 3_600_000, counter: 3)
        try future.apply(
            .add(field: CaseFields.tags, element: "x", stamp: Stamp(hlc: far, replica: .random())), by: Self.agent)
        _ = try replica.applyPullResponse(
            .page(PullPage(events: [.enter(future)], cursor: Cursor(epoch: "e1", seq: 1), hasMore: false)))
        #expect(try replica.metadata().clock.latest > far)
        let next = try #require(try replica.edit { try $0.add("y", to: CaseFields.tags, of: Self.key) })
        #expect(next.changes[0].change.stamp.hlc > far)
    }

    @Test func newEpochResetsAndResendsWhatTheOldServerAcknowledged() async throws {
        let hub = TestHub()
        let replica = makeReplica()
        try replica.edit { try $0.write("one", to: CaseFields.category, of: Self.key) }
        _ = try await engine(replica, hub).sync()
        // Accepted and pulled back (delivered) after the backup was taken.
        let delivered = try #require(try replica.edit { try $0.add("delivered", to: CaseFields.tags, of: Self.key) })
        _ = try await engine(replica, hub).sync()
        #expect(try replica.outbox().isEmpty)
        #expect(try replica.retainedSets().map(\.id).contains(delivered.id))
        // Accepted but not yet pulled.
        let acknowledged = try #require(
            try replica.edit { try $0.add("acknowledged", to: CaseFields.tags, of: Self.key) })
        _ = try replica.applyPushResponse(
            try await hub.push(PushRequest(changeSets: try replica.nextPushBatch(limit: 10))))
        hub.restore(keepingFirst: 1)
        let report = try await engine(replica, hub).sync()
        #expect(report.resets == ["epochChanged"])
        _ = try await engine(replica, hub).sync()
        #expect(hub.log.map(\.id).contains(delivered.id))
        #expect(hub.log.map(\.id).contains(acknowledged.id))
        #expect(hub.log.count == 3)  // the set the backup kept was answered as a duplicate
        #expect(try replica.outbox().isEmpty)
        #expect(
            try replica.store.read { try $0.confirmedRecord(Self.key) }?.set(CaseFields.tags)?.elements == [
                "acknowledged", "delivered",
            ])
    }

    @Test func deliveredSetsAreDroppedAfterTheRetentionWindow() async throws {
        let hub = TestHub()
        let replica = Replica(
            store: InMemoryReplicaStore(replica: .random(), author: Self.agent), wallClock: clock,
            retentionMillis: 60_000)
        try replica.edit { try $0.add("a", to: CaseFields.tags, of: Self.key) }
        _ = try await engine(replica, hub).sync()
        #expect(try replica.retainedSets().count == 1)
        clock.advance(60_001)
        _ = try await engine(replica, hub).sync()
        #expect(try replica.retainedSets().isEmpty)
    }

    @Test func consecutiveWritesOfOneFieldCoalesceUntilSent() throws {
        let replica = makeReplica()
        let first = try #require(try replica.edit { try $0.write("a", to: CaseFields.priority, of: Self.key) })
        try replica.edit { try $0.write("b", to: CaseFields.priority, of: Self.key) }
        let third = try #require(try replica.edit { try $0.write("c", to: CaseFields.priority, of: Self.key) })
        var outbox = try replica.outbox()
        #expect(outbox.map(\.id) == [third.id])
        guard case .write(_, let value, let base, _, _, _) = outbox[0].changeSet.changes[0].change else { return }
        #expect(value == "c")
        #expect(base == nil)  // the first write's base
        _ = first
        _ = try replica.nextPushBatch(limit: 10)
        try replica.edit { try $0.write("d", to: CaseFields.priority, of: Self.key) }
        outbox = try replica.outbox()
        #expect(outbox.count == 2)  // a sent set is frozen
    }

    @Test func engineBacksOffOnRetryableFailuresAndGivesUpOnOthers() async throws {
        let hub = TestHub()
        let replica = makeReplica()
        try replica.edit { try $0.add("x", to: CaseFields.tags, of: Self.key) }
        hub.failures = [SyncError(.unavailable, "503"), SyncError(.unavailable, "503")]
        let sleeps = SleepLog()
        let report = try await engine(replica, hub, sleeps: sleeps).sync()
        #expect(report.accepted == 1)
        #expect(sleeps.values.count == 2)
        #expect(sleeps.values[1] >= sleeps.values[0] / 2)
        hub.failures = [SyncError(.outOfScope, "revoked")]
        await #expect(throws: SyncError.self) { try await engine(replica, hub).sync() }
    }

    @Test func machineGivesUpAfterMaxAttempts() {
        var machine = SyncMachine(seed: 1)
        #expect(machine.start() == .push(limit: 100))
        var waits: [UInt64] = []
        for _ in 0..<4 {
            guard case .wait(let ms) = machine.failed(SyncError(.unavailable, "down")) else {
                Issue.record("expected a wait"); return
            }
            waits.append(ms)
            #expect(machine.waited() == .push(limit: 100))
        }
        #expect(waits == waits.sorted() || waits.last! > waits.first!)
        guard case .fail = machine.failed(SyncError(.unavailable, "down")) else {
            Issue.record("expected to give up"); return
        }
    }

    /// The engine asks for the next page while it applies this one, and uses what it fetched: every
    /// page is asked for exactly once, in order, and the replica ends where the server is.
    @Test func theNextPageIsFetchedWhileThisOneIsAppliedAndNeverTwice() async throws {
        let hub = RequestLog()
        let writer = makeReplica()
        for round in 0..<9 {
            clock.advance(1)
            try writer.edit { try $0.add("t\(round)", to: CaseFields.tags, of: Self.key) }
        }
        _ = try await engine(writer, hub).sync()
        let reader = makeReplica()
        hub.clear()
        let report = try await engine(reader, hub).sync()
        // Pages of 2 of the 9 sets: cursors 0, 2, 4, 6, 8, each once (a fetch made ahead and not
        // used would show as a repeated cursor, one made for the wrong page as an extra request).
        #expect(hub.requests.map { $0.cursor?.seq ?? 0 } == [0, 2, 4, 6, 8])
        #expect(report.pulledChangeSets == 9)
        #expect(try reader.visibleRecord(Self.key)?.canonicalJSON == writer.visibleRecord(Self.key)?.canonicalJSON)
    }

    /// Pages fetched ahead are applied a few at a time; a page that fails to arrive is asked for
    /// again after the back-off, and the engine never has two requests in flight.
    @Test func pagesFetchedAheadSurviveAFailedFetchAndNeverOverlap() async throws {
        let hub = FlakyHub(failing: [2, 3])
        let writer = makeReplica()
        for round in 0..<11 {
            clock.advance(1)
            try writer.edit { try $0.add("t\(round)", to: CaseFields.tags, of: Self.key) }
        }
        _ = try await engine(writer, hub).sync()
        hub.clear()
        let reader = makeReplica()
        let sleeps = SleepLog()
        let report = try await engine(reader, hub, sleeps: sleeps).sync()
        #expect(hub.maxInFlight == 1)
        // The page fetched ahead failed, then its first retry: two back-offs, eight requests.
        #expect(sleeps.values.count == 2 && hub.answered == 8)
        #expect(report.pulledChangeSets == 11)
        // Every page delivered once, in order.
        #expect(hub.requests.map { $0.cursor?.seq ?? 0 } == [0, 2, 4, 6, 8, 10])
        #expect(try reader.visibleRecord(Self.key)?.canonicalJSON == writer.visibleRecord(Self.key)?.canonicalJSON)
    }

    @Test func pagedPullsReachTheSameStateAsTheServer() async throws {
        let hub = TestHub()
        let writers = (0..<3).map { _ in makeReplica() }
        for (index, writer) in writers.enumerated() {
            for round in 0..<4 {
                clock.advance(1)
                try writer.edit { editor in
                    try editor.add("t\(index)-\(round)", to: CaseFields.tags, of: Self.key)
                    try editor.append(
                        EntryKind.message, to: CaseFields.timeline, of: Self.key, payload: ["direction": "outbound"])
                }
            }
            _ = try await engine(writer, hub).sync()
        }
        for writer in writers { _ = try await engine(writer, hub).sync() }
        var expected: [RecordKey: Record] = [:]
        for set in hub.log { try set.apply(to: &expected) }
        for writer in writers {
            #expect(try writer.visibleRecord(Self.key)?.canonicalJSON == expected[Self.key]?.canonicalJSON)
            #expect(try writer.outbox().isEmpty)
        }
    }
}

/// A hub that logs every pull request it answers.
class RequestLog: TestHub, @unchecked Sendable {
    private var logged: [PullRequest] = []

    var requests: [PullRequest] { lock.withLock { logged } }

    func clear() { lock.withLock { logged = [] } }

    override func pull(_ request: PullRequest) async throws -> PullResponse {
        lock.withLock { logged.append(request) }
        return try await super.pull(request)
    }
}

/// A hub whose pull requests number `failing` (counted from 0 after ``clear()``) fail as
/// unavailable, and that notes how many pulls it ever answered at once.
final class FlakyHub: RequestLog, @unchecked Sendable {
    let failing: Set<Int>
    private var inFlight = 0
    private var count = 0
    private var highest = 0

    init(failing: Set<Int>) { self.failing = failing }

    var maxInFlight: Int { lock.withLock { highest } }
    /// Pull requests since ``clear()``, failed ones included.
    var answered: Int { lock.withLock { count } }

    override func clear() {
        super.clear()
        lock.withLock { count = 0 }
    }

    override func pull(_ request: PullRequest) async throws -> PullResponse {
        let number = lock.withLock {
            inFlight += 1
            highest = max(highest, inFlight)
            count += 1
            return count - 1
        }
        defer { lock.withLock { inFlight -= 1 } }
        // Gives another request every chance to start meanwhile.
        for _ in 0..<20 { await Task.yield() }
        if failing.contains(number) { throw SyncError(.unavailable, "the server is restarting") }
        return try await super.pull(request)
    }
}

final class SleepLog: @unchecked Sendable {
    private let lock = NSLock()
    private var _values: [UInt64] = []
    var values: [UInt64] { lock.withLock { _values } }
    func append(_ value: UInt64) { lock.withLock { _values.append(value) } }
}

@Suite struct ProtocolMessageTests {
    @Test func messagesRoundTripThroughJSON() throws {
        let fleet = try Fleet.run(seed: 4, replicas: 3, steps: 20)
        let push = PushRequest(changeSets: fleet.sets)
        #expect(try PushRequest(value: CanonicalJSON.decode(CanonicalJSON.encode(push.value))) == push)
        let outcomes = [
            PushOutcome.accepted(fleet.sets[0].id, at: Cursor(epoch: "ep:1", seq: 7)),
            .duplicate(fleet.sets[1].id, at: Cursor(epoch: "e", seq: 2)),
            .rejected(fleet.sets[2].id, SyncError(.forbiddenField, "customers may not set priority")),
        ]
        let response = PushResponse(outcomes: outcomes, serverMillis: 1_800_000_000_000)
        #expect(try PushResponse(value: CanonicalJSON.decode(CanonicalJSON.encode(response.value))) == response)
        var records: [RecordKey: Record] = [:]
        for set in fleet.sets { try set.apply(to: &records) }
        let page = PullResponse.page(
            PullPage(
                events: [.changeSet(fleet.sets[0]), .enter(records.values.first!), .leave(records.keys.first!)],
                cursor: Cursor(epoch: "e", seq: 9), hasMore: true))
        #expect(try PullResponse(value: CanonicalJSON.decode(CanonicalJSON.encode(page.value))) == page)
        let reset = PullResponse.reset(
            ResetSnapshot(records: Array(records.values), cursor: Cursor(epoch: "e2", seq: 1), reason: "epochChanged"))
        #expect(try PullResponse(value: CanonicalJSON.decode(CanonicalJSON.encode(reset.value))) == reset)
    }

    @Test func unknownMembersFromNewerPeersAreIgnoredAndMissingOnesNamed() throws {
        let json =
            #"{"outcomes":[{"replica":"00000000-0000-4000-8000-000000000001","seq":3,"status":"accepted","position":"e:4","future":1}],"serverMillis":5,"extra":true}"#
        #expect(
            try PushResponse(value: CanonicalJSON.decode(json)).outcomes.first?.position == Cursor(epoch: "e", seq: 4))
        do {
            _ = try PushResponse(
                value: CanonicalJSON.decode(
                    #"{"outcomes":[{"replica":"00000000-0000-4000-8000-000000000001","seq":3,"status":"rejected"}],"serverMillis":5}"#
                ))
            Issue.record("accepted a rejection without an error")
        } catch {
            #expect(error.message.contains("error"))
        }
        #expect(Cursor("e:12") == Cursor(epoch: "e", seq: 12))
        #expect(Cursor("ab:cd:3") == Cursor(epoch: "ab:cd", seq: 3))
        for bad in ["", "e", ":3", "e:", "e:-1", "e:1x", "e:99999999999999999999999"] {
            #expect(Cursor(bad) == nil, "accepted \(bad)")
        }
    }
}
