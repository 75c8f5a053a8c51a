import AsyncHTTPClient
import ConciergeClient
import ConciergeCore
import ConciergeServer
import Foundation
import Testing

/// The real server on loopback, real client engines over HTTP.
@Suite struct SyncIntegrationTests {
    static func newCase(_ device: TestDevice, subject: String, customer: PrincipalID? = nil, id: RecordID? = nil)
        throws -> RecordKey
    {
        let key = RecordKey(type: .serviceCase, id: id ?? RecordID(UUID().uuidString.lowercased()))
        try device.edit { editor in
            try editor.write("acme", to: CaseFields.provider, of: key)
            try editor.write(.string((customer ?? device.principal).rawValue), to: CaseFields.customer, of: key)
            try editor.write(.string(subject), to: CaseFields.subject, of: key)
            try editor.append(
                EntryKind.message, to: CaseFields.timeline, of: key,
                payload: ["channel": "app", "direction": "inbound"], personal: ["body": .string(subject)])
        }
        return key
    }

    /// The replica holds exactly the server's projection for its principal, byte for byte.
    static func expectMatchesProjection(
        _ device: TestDevice, _ server: TestServer, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let principal = try #require(try await server.store.principal(device.principal))
        let expected = try await server.store.projection(for: principal).sorted { $0.key < $1.key }.map {
            CanonicalJSON.string($0.value)
        }
        #expect(try device.canonicalState() == expected, sourceLocation: sourceLocation)
    }

    @Test(arguments: Engine.allCases) func customersAndAgentShareCasesAndNotesStayInternal(engine: Engine) async throws
    {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let anna = try await server.device("anna")
        let carl = try await server.device("carl")
        let ben = try await server.device("ben")
        let annasCase = try Self.newCase(anna, subject: "Router drops every evening")
        _ = try Self.newCase(carl, subject: "Wrong bill")
        #expect(try await anna.sync().accepted == 1)
        #expect(try await carl.sync().accepted == 1)
        try await ben.sync()
        #expect(try ben.canonicalState().count == 2)
        try ben.edit { editor in
            try editor.append(
                EntryKind.statusChange, to: CaseFields.timeline, of: annasCase, payload: ["from": "new", "to": "open"])
            try editor.append(
                EntryKind.note, to: CaseFields.timeline, of: annasCase, personal: ["body": "Line noise on pair 2"])
            try editor.append(
                EntryKind.message, to: CaseFields.timeline, of: annasCase,
                payload: ["channel": "app", "direction": "outbound"], personal: ["body": "We are on it"])
        }
        #expect(try await ben.sync().accepted == 1)
        try await anna.sync()
        try await carl.sync()
        let annasRecord = try #require(try anna.replica.visibleRecord(annasCase))
        let annasView = try #require(ServiceCase(annasRecord))
        #expect(annasView.timeline.map(\.kind) == [EntryKind.message, EntryKind.statusChange, EntryKind.message])
        #expect(!annasView.timeline.contains { $0.kind == EntryKind.note })
        #expect(annasView.status == .open)
        #expect(try carl.replica.visibleRecord(annasCase) == nil)
        for device in [anna, carl, ben] { try await Self.expectMatchesProjection(device, server) }
        let bensRecord = try #require(try ben.replica.visibleRecord(annasCase))
        let bensView = try #require(ServiceCase(bensRecord))
        #expect(bensView.timeline.contains { $0.kind == EntryKind.note })
        #expect(bensView.isVerified(bensView.timeline[0]))
        await server.stop()
    }

    /// States and logged change sets stored as canonical JSON (by versions before the binary
    /// forms) are read as before, and a change rewrites the rows it touches in the binary form.
    /// Pulls in JSON and in the binary form carry the same response.
    @Test(arguments: Engine.allCases) func rowsStoredAsJSONStillServeAndBothWireFormsAgree(engine: Engine)
        async throws
    {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let anna = try await server.device("anna")
        let ben = try await server.device("ben")
        // Ben's cursor stands before Anna's sets: he reads them from the log, rewritten as JSON.
        try await ben.sync()
        let key = try Self.newCase(anna, subject: "Router drops every evening")
        _ = try Self.newCase(anna, subject: "Wrong bill")
        try await anna.sync()
        let principal = try #require(try await server.store.principal("ben"))
        let before = try await server.store.projection(for: principal)
        #expect(try await server.rewriteRowsAsJSON() >= 10)
        #expect(try await server.store.projection(for: principal) == before)
        #expect(try await ben.sync().pulledChangeSets == 2)
        try await Self.expectMatchesProjection(ben, server)
        try ben.edit { editor in
            try editor.write("high", to: CaseFields.priority, of: key)
            try editor.append(EntryKind.note, to: CaseFields.timeline, of: key, personal: ["body": "Pair 2"])
        }
        #expect(try await ben.sync().accepted == 1)
        try await anna.sync()
        for device in [anna, ben] { try await Self.expectMatchesProjection(device, server) }
        let fresh = try await server.device("ben")
        try await fresh.sync()
        try await Self.expectMatchesProjection(fresh, server)

        // The same pull, asked for in each form.
        var answers: [PullResponse] = []
        for accept in ["application/json", "application/vnd.concierge.binary"] {
            var request = HTTPClientRequest(
                url: server.url.appendingPathComponent("v1/pull").absoluteString + "?limit=10")
            request.headers.add(name: "Authorization", value: "Bearer \(ben.transport.currentSession.accessToken)")
            request.headers.add(name: "Accept", value: accept)
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            #expect(response.headers.first(name: "Content-Type") == accept)
            let body = Array(try await response.body.collect(upTo: 1 << 24).readableBytesView)
            answers.append(
                accept == "application/json"
                    ? try PullResponse(value: CanonicalJSON.decode(body)) : try PullResponse(binary: body))
        }
        #expect(answers[0] == answers[1])
        guard case .reset(let snapshot) = answers[0] else { Issue.record("expected a snapshot"); return }
        #expect(snapshot.records.count == 2)
        await server.stop()
    }

    @Test(arguments: Engine.allCases) func customerSettingPriorityIsRefusedAndLeavesNoTrace(engine: Engine) async throws
    {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let anna = try await server.device("anna")
        let key = try Self.newCase(anna, subject: "No signal")
        try await anna.sync()
        let before = try await server.store.stats()
        let metricsBefore = server.parts.metrics.exposition()
        let refused = try #require(try anna.edit { try $0.write("urgent", to: CaseFields.priority, of: key) })
        let report = try await anna.sync()
        #expect(report.rejected.map(\.changeSet.id) == [refused.id])
        #expect(report.rejected.first?.error.code == .forbiddenField)
        let after = try await server.store.stats()
        for table in ["record", "record_field", "record_entry", "change_log", "scope_event", "accepted_outcome"] {
            #expect(after[table] == before[table], "\(table) changed")
        }
        #expect(after["rejected_outcome"] == (before["rejected_outcome"] ?? 0) + 1)
        #expect(try await server.store.record(key)?.value(CaseFields.priority) == nil)
        let accepted = { (text: String) in
            text.split(separator: "\n").first { $0.hasPrefix("concierge_change_sets_accepted_total ") }
        }
        #expect(accepted(server.parts.metrics.exposition()) == accepted(metricsBefore))
        #expect(try anna.replica.visibleRecord(key)?.value(CaseFields.priority) == nil)
        try await Self.expectMatchesProjection(anna, server)
        await server.stop()
    }

    @Test(arguments: Engine.allCases) func assignedCaseArrivesWholeAtTheTechnicianAndLeavesWhenReassigned(
        engine: Engine
    ) async throws {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let anna = try await server.device("anna")
        let ben = try await server.device("ben")
        let tom = try await server.device("tom")
        let key = try Self.newCase(anna, subject: "Install fibre")
        try await anna.sync()
        try await ben.sync()
        try await tom.sync()
        #expect(try tom.canonicalState().isEmpty)
        try ben.edit { editor in
            try editor.append(EntryKind.note, to: CaseFields.timeline, of: key, personal: ["body": "Dog in the garden"])
            try editor.write("tom", to: CaseFields.assignee, of: key)
        }
        try await ben.sync()
        let report = try await tom.sync()
        #expect(report.entered == 1)
        let tomsRecord = try #require(try tom.replica.visibleRecord(key))
        let tomsView = try #require(ServiceCase(tomsRecord))
        #expect(tomsView.timeline.count == 2)  // the customer's message and the note: the whole record
        #expect(tomsView.subject == "Install fibre")
        try await Self.expectMatchesProjection(tom, server)
        try ben.edit { try $0.write("tina", to: CaseFields.assignee, of: key) }
        try await ben.sync()
        #expect(try await tom.sync().left == 1)
        #expect(try tom.replica.visibleRecord(key) == nil)
        try await Self.expectMatchesProjection(tom, server)
        let tina = try await server.device("tina")
        try await tina.sync()
        #expect(try tina.replica.visibleRecord(key) != nil)
        try await Self.expectMatchesProjection(tina, server)
        await server.stop()
    }
}

@Suite struct RestoreTests {
    /// The database is restored from a backup older than some acknowledged work: every replica
    /// resets, sends again what the backup lacks, and nothing acknowledged is lost.
    @Test func restoredDatabaseResetsEveryReplicaAndLosesNothingAcknowledged() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        let anna = try await server.device("anna")
        let ben = try await server.device("ben")
        let key = try SyncIntegrationTests.newCase(anna, subject: "Before the backup")
        try await anna.sync()
        try await ben.sync()
        let backup = server.folder.appendingPathComponent("backup.sqlite").path
        try (server.store as! SQLiteServerStore).backup(to: backup)
        // Work the backup does not have: delivered back to its author, and only acknowledged.
        try anna.edit { editor in
            try editor.append(
                EntryKind.message, to: CaseFields.timeline, of: key, id: "after-1",
                payload: ["channel": "app", "direction": "inbound"], personal: ["body": "Still broken"])
        }
        try ben.edit { try $0.write("router", to: CaseFields.category, of: key) }
        try await anna.sync()
        try await ben.sync()
        try anna.edit { try $0.write(4, to: CaseFields.rating, of: key) }
        _ = try anna.replica.applyPushResponse(
            try await anna.transport.push(PushRequest(changeSets: try anna.replica.nextPushBatch(limit: 10))))
        let oldEpoch = server.store.epoch
        await server.stop()

        // Restore: the backup replaces the database, which gets a new epoch.
        let database = server.configuration.databasePath
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) }
        try FileManager.default.copyItem(atPath: backup, toPath: database)
        try SQLiteServerStore.markRestored(path: database)
        let restored = try await TestServer.start(folder: server.folder) { $0.port = server.port }
        #expect(restored.store.epoch != oldEpoch)
        #expect(try await restored.store.record(key)?.value(CaseFields.category) == nil)

        let annasReport = try await anna.sync()
        let bensReport = try await ben.sync()
        #expect(annasReport.resets == ["epochChanged"])
        #expect(bensReport.resets == ["epochChanged"])
        for device in [anna, ben, anna, ben] { try await device.sync() }
        let record = try #require(try await restored.store.record(key))
        let serviceCase = try #require(ServiceCase(record))
        #expect(serviceCase.timeline.map(\.id).contains("after-1"))
        #expect(serviceCase.category == "router")
        #expect(serviceCase.rating == 4)
        for device in [anna, ben] {
            #expect(try device.replica.outbox().isEmpty)
            try await SyncIntegrationTests.expectMatchesProjection(device, restored)
        }
        await restored.stop()
    }
}

@Suite struct LiveTests {
    static func next(_ iterator: inout AsyncThrowingStream<LiveNotice, any Error>.AsyncIterator) async throws
        -> LiveNotice?
    {
        try await iterator.next()
    }

    // The time limit is the safety net for a notice that never comes; nothing here sleeps.
    @Test(.timeLimit(.minutes(1)), arguments: Engine.allCases)
    func changesToACaseNotifyItsCustomerWhoThenPulls(engine: Engine) async throws {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let anna = try await server.device("anna")
        let carl = try await server.device("carl")
        let ben = try await server.device("ben")
        let annasCase = try SyncIntegrationTests.newCase(anna, subject: "Live")
        try await anna.sync()
        try await ben.sync()
        var annasNotices = LiveConnection.notices(anna.transport).makeAsyncIterator()
        var carlsNotices = LiveConnection.notices(carl.transport).makeAsyncIterator()
        #expect(try await Self.next(&annasNotices) == .hello(epoch: server.store.epoch))
        #expect(try await Self.next(&carlsNotices) == .hello(epoch: server.store.epoch))

        try ben.edit { editor in
            try editor.append(
                EntryKind.message, to: CaseFields.timeline, of: annasCase,
                payload: ["channel": "app", "direction": "outbound"], personal: ["body": "A technician comes tomorrow"])
        }
        try await ben.sync()
        let notice = try await Self.next(&annasNotices)
        guard case .changed(let seq) = notice else {
            Issue.record("expected a change notice, got \(String(describing: notice))")
            return
        }
        #expect(try await anna.sync().pulledChangeSets == 1)
        #expect(try anna.replica.metadata().cursor?.seq == seq)
        let record = try #require(try anna.replica.visibleRecord(annasCase))
        #expect(ServiceCase(record)?.timeline.last?.personal["body"] == "A technician comes tomorrow")

        // Carl hears nothing of Anna's case: his first notice is about his own.
        let carlsCase = try SyncIntegrationTests.newCase(carl, subject: "Mine")
        try await carl.sync()
        guard case .changed(let carlsSeq) = try await Self.next(&carlsNotices) else {
            Issue.record("expected a change notice for Carl")
            return
        }
        #expect(carlsSeq > seq)
        _ = carlsCase
        await server.stop()
    }
}

extension LiveTests {
    /// An open live socket checks its device again while it is open: once the device is revoked,
    /// the server says so and closes it, and a revoked device cannot open another.
    @Test(.timeLimit(.minutes(1)), arguments: Engine.allCases)
    func aRevokedDevicesLiveSocketCloses(engine: Engine) async throws {
        let server = try await TestServer.start(engine: engine) { $0.liveRecheckMilliseconds = 100 }
        try await server.seed()
        let anna = try await server.device("anna")
        var notices = LiveConnection.notices(anna.transport).makeAsyncIterator()
        #expect(try await Self.next(&notices) == .hello(epoch: server.store.epoch))
        try await server.store.revokeDevice(anna.transport.currentSession.replica)
        // The stream ends (closed by the server) instead of waiting for notices forever.
        var ended = false
        do {
            while try await Self.next(&notices) != nil {}
            ended = true
        } catch {
            ended = true
        }
        #expect(ended)
        var again = LiveConnection.notices(anna.transport).makeAsyncIterator()
        await #expect(throws: (any Error).self) { _ = try await Self.next(&again) }
        await server.stop()
    }

    /// A socket whose access token expires is closed; the client reconnects with a fresh token.
    @Test(.timeLimit(.minutes(1))) func aLiveSocketClosesWhenItsTokenExpires() async throws {
        let server = try await TestServer.start { $0.accessTokenSeconds = 1 }
        try await server.seed()
        let anna = try await server.device("anna")
        var notices = LiveConnection.notices(anna.transport).makeAsyncIterator()
        #expect(try await Self.next(&notices) == .hello(epoch: server.store.epoch))
        var ended = false
        do {
            while try await Self.next(&notices) != nil {}
            ended = true
        } catch {
            ended = true
        }
        #expect(ended)
        await server.stop()
    }
}

@Suite struct IntegrityTests {
    @Test(arguments: Engine.allCases) func replicaDigestEqualsServerDigestAndPointsAtWhatDiffers(engine: Engine)
        async throws
    {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let anna = try await server.device("anna")
        let ben = try await server.device("ben")
        for index in 0..<12 { _ = try SyncIntegrationTests.newCase(anna, subject: "Case \(index)") }
        try await anna.sync()
        try await ben.sync()
        let key = try SyncIntegrationTests.newCase(ben, subject: "For Anna", customer: "anna")
        try ben.edit { try $0.append(EntryKind.note, to: CaseFields.timeline, of: key, personal: ["body": "internal"]) }
        try await ben.sync()
        try await anna.sync()
        for device in [anna, ben] {
            let (digest, cursor) = try await device.transport.integrity()
            #expect(cursor == (try device.replica.metadata().cursor))
            #expect(try device.replica.integrityDigest() == digest)
            #expect(digest.buckets.values.reduce(0) { $0 + $1.count } == 13)
        }
        // A replica that lost a record sees exactly that bucket differ.
        try anna.replica.store.write { try $0.removeConfirmed(key) }
        let (digest, _) = try await anna.transport.integrity()
        #expect(try anna.replica.integrityDigest().differences(from: digest) == [IntegrityDigest.bucket(of: key)])
        await server.stop()
    }
}

@Suite struct FollowUpTests {
    /// On both engines with a UUID case id, and on SQLite with an id that is no UUID (which got no
    /// follow-up before: its id was derived from the case id as a UUID namespace).
    @Test(arguments: [(Engine.sqlite, true), (.postgres, true), (.sqlite, false)])
    func customerMessageToAClosedCaseOpensOneLinkedFollowUp(engine: Engine, uuidCaseID: Bool) async throws {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let anna = try await server.device("anna")
        let ben = try await server.device("ben")
        let key = try SyncIntegrationTests.newCase(anna, subject: "Refund", id: uuidCaseID ? nil : "my-case-1")
        try await anna.sync()
        try await ben.sync()
        try ben.edit { editor in
            try editor.append(
                EntryKind.statusChange, to: CaseFields.timeline, of: key, payload: ["from": "new", "to": "open"])
            try editor.append(
                EntryKind.statusChange, to: CaseFields.timeline, of: key, payload: ["from": "open", "to": "resolved"])
        }
        try await ben.sync()
        try await anna.sync()
        try anna.edit {
            try $0.append(
                EntryKind.statusChange, to: CaseFields.timeline, of: key, payload: ["from": "resolved", "to": "closed"])
        }
        try await anna.sync()
        for text in ["One more thing", "And another"] {
            try anna.edit { editor in
                try editor.append(
                    EntryKind.message, to: CaseFields.timeline, of: key,
                    payload: ["channel": "app", "direction": "inbound"], personal: ["body": .string(text)])
            }
            try await anna.sync()
        }
        try await anna.sync()
        let followUpKey = RecordKey(type: .serviceCase, id: FollowUp.caseID(for: key.id))
        let closedRecord = try #require(try anna.replica.visibleRecord(key))
        let closed = try #require(ServiceCase(closedRecord))
        #expect(closed.status == .closed)
        #expect(closed.messagesAfterClose.count == 2)
        #expect(closed.links == [followUpKey.id.rawValue])
        let followUpRecord = try #require(try anna.replica.visibleRecord(followUpKey))
        let followUp = try #require(ServiceCase(followUpRecord))
        #expect(followUp.status == .new)
        #expect(followUp.customer == "anna")
        #expect(followUp.subject == "Refund")
        #expect(followUp.links == [key.id.rawValue])
        #expect(followUp.timeline.map(\.kind) == [EntryKind.followUp])
        #expect(followUp.timeline.first?.payload["message"] == .string(closed.messagesAfterClose[0].id.rawValue))
        let stats = try await server.store.stats()
        #expect(stats["record"] == 2)
        try await ben.sync()
        #expect(try ben.replica.visibleRecord(followUpKey) != nil)
        for device in [anna, ben] { try await SyncIntegrationTests.expectMatchesProjection(device, server) }
        await server.stop()
    }
}
