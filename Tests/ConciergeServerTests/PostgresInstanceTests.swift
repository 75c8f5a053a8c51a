import ConciergeClient
import ConciergeCore
import Foundation
import Logging
import Testing

@testable import ConciergeServer

/// Several `concierge-server` instances on one PostgreSQL database.
@Suite(.timeLimit(.minutes(1))) struct PostgresInstanceTests {
    static func next(_ iterator: inout AsyncThrowingStream<LiveNotice, any Error>.AsyncIterator) async throws
        -> LiveNotice?
    {
        try await iterator.next()
    }

    @discardableResult
    static func message(_ device: TestDevice, on key: RecordKey, _ body: String) throws -> ChangeSet? {
        try device.edit { editor in
            try editor.append(
                EntryKind.message, to: CaseFields.timeline, of: key,
                payload: ["channel": "app", "direction": "outbound"], personal: ["body": .string(body)])
        }
    }

    /// A push accepted by instance B reaches a live client of instance A through NOTIFY (A's
    /// fallback poll is set to ten minutes, so only the notice can deliver it).
    @Test func aPushOnOneInstanceNotifiesLiveClientsOfTheOther() async throws {
        let first = try await TestServer.start(engine: .postgres) { $0.livePollMilliseconds = 600_000 }
        let second = try await TestServer.start(engine: .postgres, databaseURL: first.configuration.databaseURL)
        try await first.seed()
        let anna = try await first.device("anna")
        let ben = try await second.device("ben")
        let key = try SyncIntegrationTests.newCase(anna, subject: "Across instances")
        try await anna.sync()
        try await ben.sync()
        var notices = LiveConnection.notices(anna.transport).makeAsyncIterator()
        #expect(try await Self.next(&notices) == .hello(epoch: first.store.epoch))
        try Self.message(ben, on: key, "Seen from the other instance")
        try await ben.sync()
        guard case .changed(let seq) = try await Self.next(&notices) else {
            Issue.record("expected a change notice from the other instance")
            return
        }
        #expect(try await anna.sync().pulledChangeSets == 1)
        #expect(try anna.replica.metadata().cursor?.seq == seq)
        try await SyncIntegrationTests.expectMatchesProjection(anna, first)
        await first.stop()
        await second.stop()
    }

    /// A change committed without a notice (lost) still reaches the live client: the instance's
    /// poll of the log head tells every connection.
    @Test func aLostNoticeOnlyDelaysTheLiveClient() async throws {
        let server = try await TestServer.start(engine: .postgres) { $0.livePollMilliseconds = 100 }
        try await server.seed()
        let anna = try await server.device("anna")
        let ben = try await server.device("ben")
        let key = try SyncIntegrationTests.newCase(anna, subject: "Quiet push")
        try await anna.sync()
        try await ben.sync()
        var notices = LiveConnection.notices(anna.transport).makeAsyncIterator()
        #expect(try await Self.next(&notices) == .hello(epoch: server.store.epoch))
        // Ben's next change goes in through a store that sends no notice.
        var logger = Logger(label: "quiet")
        logger.logLevel = .warning
        let quiet = try await PostgresServerStore.connect(
            url: server.configuration.databaseURL!, maxConnections: 2, logger: logger,
            options: .init(observer: TestObserver(sendsNotices: false)))
        let set = try #require(try Self.message(ben, on: key, "Pushed without a notice"))
        let benPrincipal = try #require(try await quiet.principal("ben"))
        let outcomes = try await quiet.push(
            [set], from: Caller(principal: benPrincipal, replica: ben.transport.currentSession.replica),
            serverMillis: UInt64(Date().timeIntervalSince1970 * 1000)
        ).outcomes
        #expect(outcomes.map(\.status) == [PushOutcome.Status.accepted])
        await quiet.close()
        guard case .changed = try await Self.next(&notices) else {
            Issue.record("the poll did not tell the live client")
            return
        }
        #expect(try await anna.sync().pulledChangeSets == 1)
        try await SyncIntegrationTests.expectMatchesProjection(anna, server)
        await server.stop()
    }

    /// Two real `concierge-server` processes on one database; clients push through the first,
    /// which is killed with SIGKILL mid-stream; they move to the survivor, and every set any of
    /// them saw acknowledged is there, once.
    @Test func oneInstanceKilledHardTheOtherServesAndNothingAcknowledgedIsLost() async throws {
        let url = try await TestPostgres.freshDatabase()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("concierge-two-\(UUID())")
        let (dataA, dataB) = (folder.appendingPathComponent("a"), folder.appendingPathComponent("b"))
        for data in [dataA, dataB] {
            try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        }
        let (first, portA) = try await CrashTests.start(data: dataA, port: 0, arguments: ["--database-url", url])
        let (second, portB) = try await CrashTests.start(data: dataB, port: 0, arguments: ["--database-url", url])
        defer { second.terminate() }
        var logger = Logger(label: "admin")
        logger.logLevel = .warning
        let admin = try await PostgresServerStore.connect(url: url, maxConnections: 2, logger: logger)
        try await admin.createProvider(id: "acme", name: "ACME")
        for (id, role) in [("anna", "customer"), ("carl", "customer"), ("ben", "agent")] {
            try await admin.createPrincipal(
                Principal(id: PrincipalID(id), provider: "acme", role: Role(role), displayName: id))
        }
        let urlA = URL(string: "http://127.0.0.1:\(portA)/")!
        let urlB = URL(string: "http://127.0.0.1:\(portB)/")!
        var devices: [TestDevice] = []
        for id in ["anna", "carl", "ben"] {
            let code = try await admin.issueEnrolmentCode(for: PrincipalID(id))
            devices.append(
                TestDevice(session: try await HTTPSyncTransport.enrol(server: urlA, code: code, deviceName: "t")))
        }
        // Customers open cases and sync through A; A dies while their pushes are in flight.
        var switched = 0
        for round in 0..<12 {
            for device in devices.prefix(2) {
                for _ in 0..<3 { _ = try SyncIntegrationTests.newCase(device, subject: "Round \(round)") }
            }
            let syncs = devices.map { device in Task { try? await device.sync() } }
            if round == 6 { kill(first.processIdentifier, SIGKILL) }
            for sync in syncs { _ = await sync.value }
            if round >= 6 {
                for device in devices where device.transport.currentSession.server != urlB {
                    device.transport.switchServer(to: urlB)
                    switched += 1
                }
            }
        }
        first.waitUntilExit()
        // Everyone syncs on the survivor until quiet.
        for _ in 0..<3 { for device in devices { try await device.sync() } }
        #expect(switched == 3)
        for device in devices.prefix(2) {
            let acknowledged = try CrashTests.acknowledged(device)
            let accepted = try await admin.acceptedSets(of: device.transport.currentSession.replica)
            #expect(acknowledged.count == 36, "every case was acknowledged in the end")
            #expect(acknowledged.isSubset(of: accepted))
        }
        let stats = try await admin.stats()
        #expect(stats["record"] == 72, "each case once")
        for device in devices {
            let principal = try #require(try await admin.principal(device.principal))
            let expected = try await admin.projection(for: principal).sorted { $0.key < $1.key }.map {
                CanonicalJSON.string($0.value)
            }
            #expect(try device.canonicalState() == expected)
        }
        await admin.close()
    }
}
