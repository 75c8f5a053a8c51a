import ConciergeClient
import ConciergeCore
import ConciergeHarness
import ConciergeServer
import ConciergeStore
import Foundation
import GRDB
import Hummingbird
import ServiceLifecycle
import Testing

/// The `concierge` binary against the real server, and against a server that has gone wrong.
@Suite struct CLITests {
    struct Run {
        let status: Int32
        let output: String
        var json: Value? { try? CanonicalJSON.decode(output) }
    }

    /// One person's CLI on a data folder of its own.
    struct CLI {
        let home: URL

        init() {
            home = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        }

        @discardableResult
        func run(_ arguments: String...) async throws -> Run { try await run(arguments) }

        @discardableResult
        func run(_ arguments: [String]) async throws -> Run {
            let output = try await ProcessRunner.run(
                Repository.path(".build/debug/concierge"), arguments, environment: ["CONCIERGE_HOME": home.path])
            return Run(status: output.status, output: output.text)
        }

        var replicaPath: String {
            let folder = home.appendingPathComponent("accounts")
            let name = (try? FileManager.default.contentsOfDirectory(atPath: folder.path))?.first {
                $0.hasSuffix(".sqlite")
            }
            return folder.appendingPathComponent(name ?? "missing").path
        }

        /// Changes the stored account behind the CLI's back (what a broken server or a stale token
        /// looks like from the device).
        func tamper(_ sql: String, _ arguments: StatementArguments) throws {
            let queue = try DatabaseQueue(path: replicaPath)
            try queue.write { try $0.execute(sql: sql, arguments: arguments) }
            try queue.close()
        }

        /// Opens a case with `case new ... --sync` and returns its id (the first line printed).
        func openCase(_ arguments: String...) async throws -> String {
            let output = try await run(["case", "new"] + arguments + ["--sync"]).output
            return String(try #require(output.split(separator: "\n").first, "\(output)"))
        }

        func pending() async throws -> Int64? {
            try await run("status", "--json").json?.arrayValue?.first?["pending"]?.intValue
        }
    }

    static func enrolled(_ principal: PrincipalID, on server: TestServer) async throws -> CLI {
        let cli = CLI()
        let code = try await server.store.issueEnrolmentCode(for: principal)
        let added = try await cli.run(
            "account", "add", server.url.absoluteString, "--code", code, "--name", "\(principal)")
        #expect(added.status == 0, "\(added.output)")
        return cli
    }

    @Test func offlineWorkWaitsWhileTheServerIsDownAndIsKept() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        let anna = try await Self.enrolled("anna", on: server)
        await server.stop()
        let opened = try await anna.run("case", "new", "--subject", "No signal", "--message", "since noon")
        #expect(
            opened.status == 0 && opened.output.contains("saved offline; 1 change set(s) pending"), "\(opened.output)")
        let sync = try await anna.run("sync")
        #expect(sync.status == 2)
        #expect(sync.output.contains("not synced: the server cannot be reached"), "\(sync.output)")
        #expect(sync.output.contains("1 change set(s) pending"))
        #expect(try await anna.pending() == 1)
        #expect(try await anna.run("inbox", "--json").json?.arrayValue?.count == 1)
    }

    @Test func aServerAnsweringGarbageLeavesTheOutboxIntact() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        let anna = try await Self.enrolled("anna", on: server)
        try await anna.run("case", "new", "--subject", "Bill too high")
        // Point the account at a server that answers 500 with an HTML page to everything.
        let router = Router()
        router.get("**") { _, _ in
            Response(status: .internalServerError, body: .init(byteBuffer: .init(string: "<html>oops</html>")))
        }
        router.post("**") { _, _ in
            Response(status: .internalServerError, body: .init(byteBuffer: .init(string: "<html>oops</html>")))
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let broken = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) })
        let group = ServiceGroup(
            configuration: .init(services: [broken], gracefulShutdownSignals: [], logger: .init(label: "broken")))
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next()!
        try anna.tamper("UPDATE account SET server = ?", ["http://127.0.0.1:\(port)/"])
        let sync = try await anna.run("sync")
        #expect(sync.status == 2)
        #expect(sync.output.contains("answered 500 without a protocol body"), "\(sync.output)")
        #expect(try await anna.pending() == 1)
        await group.triggerGracefulShutdown()
        _ = await task.result
        // Back on the real server, the same set goes through.
        try anna.tamper("UPDATE account SET server = ?", [server.url.absoluteString])
        let retried = try await anna.run("sync")
        #expect(retried.status == 0 && retried.output.contains("pushed 1"), "\(retried.output)")
        #expect(try await anna.pending() == 0)
        await server.stop()
    }

    @Test func aRejectedAccessTokenIsRefreshedSilentlyAndTheNewTokensKept() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        let anna = try await Self.enrolled("anna", on: server)
        let before = try ReplicaFile.open(path: anna.replicaPath).account().session
        try anna.tamper("UPDATE account SET access_token = ?", ["expired.or.forged"])
        try await anna.run("case", "new", "--subject", "Router")
        let sync = try await anna.run("sync")
        #expect(sync.status == 0 && sync.output.contains("pushed 1"), "\(sync.output)")
        let after = try ReplicaFile.open(path: anna.replicaPath).account().session
        #expect(after.refreshToken != before.refreshToken && after.accessToken != "expired.or.forged")
        await server.stop()
    }

    @Test func aRevokedDeviceKeepsItsDataAndSaysWhatWasNotSent() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        let anna = try await Self.enrolled("anna", on: server)
        let id = try #require(
            try await anna.run("case", "new", "--subject", "Lost phone", "--sync").output.split(separator: "\n").first)
        try await anna.run("case", "reply", String(id), "still there?")
        try await server.store.revokeDevice(ReplicaFile.open(path: anna.replicaPath).account().session.replica)
        let sync = try await anna.run("sync")
        #expect(sync.status == 2)
        #expect(
            sync.output.contains("this device was revoked; local data is kept, 1 change set(s) could not be sent"),
            "\(sync.output)")
        let shown = try await anna.run("case", "show", String(id), "--json")
        #expect(shown.json?["timeline"]?.arrayValue?.count == 1, "\(shown.output)")  // the reply is pending, not lost
        #expect(try await anna.pending() == 1)
        await server.stop()
    }

    @Test func aFinalRejectionIsShownAndTheVisibleStateCorrected() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        let anna = try await Self.enrolled("anna", on: server)
        let id = try await anna.openCase("--subject", "Slow")
        try await anna.run("case", "set", id, "priority", "urgent")
        #expect(try await anna.run("case", "show", id, "--json").json?["priority"] == "urgent")
        let sync = try await anna.run("sync")
        #expect(
            sync.output.contains("REJECTED set(s) 2 (forbiddenField: a customer may not write priority)"),
            "\(sync.output)")
        #expect(try await anna.run("case", "show", id, "--json").json?["priority"] == .null)
        let status = try await anna.run("status")
        #expect(status.output.contains("rejected anna set 2: forbiddenField"), "\(status.output)")
        await server.stop()
    }

    /// The customer's contact preferences hold in the CLI (checked before sending) as on the server:
    /// a proactive message on a channel they do not allow is refused, naming the rule; an answer
    /// where they just wrote is not proactive.
    @Test func anAgentsProactiveMessageFollowsTheCustomersPreferences() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        let anna = try await Self.enrolled("anna", on: server)
        let ben = try await Self.enrolled("ben", on: server)
        #expect(try await anna.run("prefs", "--allow", "email", "--sync").status == 0)
        let id = try await anna.openCase("--subject", "Slow", "--message", "Since Monday")
        try await ben.run("sync")
        let refused = try await ben.run("case", "reply", id, "Your new contract", "--channel", "sms")
        #expect(refused.status != 0)
        #expect(
            refused.output.contains("channelAllowed: the customer does not allow contact by sms"), "\(refused.output)")
        let marketing = try await ben.run(
            "case", "reply", id, "Our offer", "--channel", "email", "--purpose", "marketing")
        #expect(marketing.status != 0)
        #expect(marketing.output.contains("consent: "), "\(marketing.output)")
        let answer = try await ben.run("case", "reply", id, "Looking into it", "--sync")
        #expect(answer.status == 0 && answer.output.contains("pushed 1"), "\(answer.output)")
        try await anna.run("sync")
        let shown = try await anna.run("case", "show", id, "--json")
        #expect(shown.json?["timeline"]?.arrayValue?.count == 2, "\(shown.output)")
        await server.stop()
    }

    /// Anna writes in the app, then calls; the phone system hands the call over. Ben's CLI shows
    /// both on one timeline, each with its channel and what its identity rests on, and the switch
    /// from the app to the phone between them; Ben notes the next switch himself, and a switch to
    /// the channel it is already on is refused before it is saved.
    @Test func anAppMessageAndACallShowOnOneTimelineWithWhatEachRestsOn() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        try await server.store.setDefaultRegion(of: "acme", to: "DE")
        try await server.store.addContactPoint(
            StoredContactPoint(
                provider: "acme", point: ContactPoint(kind: .phone, value: "+49228622243"), customer: "anna",
                createdAt: 1))
        _ = try await IntegrationAdmin.create(id: "phones", provider: "acme", name: "Phones", store: server.store)
        let (key, _) = try await IntegrationAdmin.addKey(to: "phones", channels: ["phone"], store: server.store)
        let anna = try await Self.enrolled("anna", on: server)
        let ben = try await Self.enrolled("ben", on: server)
        let id = try await anna.openCase("--subject", "No signal", "--message", "Since noon")
        let call = try await BadInputTests.send(
            server, .POST, "v1/integrations/contacts",
            body: CanonicalJSON.encode([
                "channel": "phone", "channelId": "call-1", "from": "0228 622243", "body": "Called: still no signal",
            ]), token: key, timeout: .seconds(60))
        #expect(call.status == 201, "\(call.body)")
        #expect(call.body["case"] == .string(id))
        try await ben.run("sync")
        let shown = try await ben.run("case", "show", id, "--json")
        let timeline = try #require(shown.json?["timeline"]?.arrayValue, "\(shown.output)")
        #expect(timeline.map { $0["kind"]?.stringValue } == ["message", "channelSwitch", "message"])
        #expect(timeline.map { $0["channel"]?.stringValue } == ["app", nil, "phone"])
        #expect(
            timeline.map { $0["identity"]?.stringValue }
                == ["verified via app", nil, "matched on phone +49228622243, unverified"])
        let text = try await ben.run("case", "show", id)
        #expect(text.output.contains("switched from app to phone"), "\(text.output)")
        #expect(text.output.contains("matched on phone +49228622243, unverified"))
        let same = try await ben.run("case", "switch", id, "--to", "phone")
        #expect(same.status != 0)
        #expect(same.output.contains("another channel"), "\(same.output)")
        let switched = try await ben.run("case", "switch", id, "--to", "email", "--sync")
        #expect(switched.status == 0, "\(switched.output)")
        try await anna.run("sync")
        let annas = try await anna.run("case", "show", id, "--json")
        #expect(annas.json?["timeline"]?.arrayValue?.last?["text"] == "switched from phone to email", "\(annas.output)")
        await server.stop()
    }

    @Test func watchPrintsWhatArrivesOverTheLiveConnection() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        let anna = try await Self.enrolled("anna", on: server)
        let ben = try await Self.enrolled("ben", on: server)
        let id = try await anna.openCase("--subject", "Live")
        async let watched = ben.run("watch", "--seconds", "6")
        // Reply once the watcher is connected: the server counts live clients.
        for _ in 0..<100 where server.parts.live.connectionCount == 0 { try await Task.sleep(for: .milliseconds(50)) }
        try await anna.run("case", "reply", String(id.prefix(8)), "are you there?", "--sync")
        let output = try await watched.output
        #expect(output.contains("anna (verified)  are you there?"), "\(output)")
        await server.stop()
    }

    /// `watch` into a file: each entry is there as it arrives, and killing the watcher loses none
    /// of it (standard output into a file is buffered; before, nothing appeared until it exited).
    @Test func watchIntoAFileWritesEachEntryAsItArrives() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        let anna = try await Self.enrolled("anna", on: server)
        let ben = try await Self.enrolled("ben", on: server)
        let id = try await anna.openCase("--subject", "Live")
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("watch-\(UUID().uuidString).txt")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let watcher = Process()
        watcher.executableURL = Repository.path(".build/debug/concierge")
        watcher.arguments = ["watch"]
        watcher.environment = ProcessInfo.processInfo.environment.merging(["CONCIERGE_HOME": ben.home.path]) { $1 }
        watcher.standardOutput = try FileHandle(forWritingTo: output)
        try watcher.run()
        for _ in 0..<200 where server.parts.live.connectionCount == 0 { try await Task.sleep(for: .milliseconds(50)) }
        try await anna.run("case", "reply", String(id.prefix(8)), "-5 degrees in the flat", "--sync")
        var written = ""
        for _ in 0..<200 where !written.contains("-5 degrees in the flat") {
            try await Task.sleep(for: .milliseconds(50))
            written = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        }
        kill(watcher.processIdentifier, SIGKILL)
        watcher.waitUntilExit()
        #expect(written.contains("anna (verified)  -5 degrees in the flat"), "\(written)")
        await server.stop()
    }

    /// A message may start with a dash; a mistyped option is not sent as a message; both binaries
    /// say their version.
    @Test func aMessageStartingWithADashIsSentAndBothBinariesSayTheirVersion() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        let anna = try await Self.enrolled("anna", on: server)
        let id = try await anna.openCase("--subject", "Cold")
        let sent = try await anna.run("case", "reply", id, "-5 degrees in the flat", "--sync")
        #expect(sent.status == 0, "\(sent.output)")
        let shown = try await anna.run("case", "show", id, "--json")
        #expect(shown.json?["timeline"]?.arrayValue?.last?["text"] == "-5 degrees in the flat", "\(shown.output)")
        let typo = try await anna.run("case", "reply", id, "hello", "--snyc")
        #expect(typo.status != 0)
        #expect(typo.output.contains("--snyc is no option of this command"), "\(typo.output)")
        let empty = try await anna.run("case", "reply", id)
        #expect(empty.status != 0 && empty.output.contains("the message is empty"), "\(empty.output)")
        #expect(
            try await anna.run("--version").output.trimmingCharacters(in: .whitespacesAndNewlines)
                == ConciergeVersion.current)
        let serverVersion = try await ProcessRunner.run(Repository.path(".build/debug/concierge-server"), ["--version"])
        #expect(serverVersion.text.trimmingCharacters(in: .whitespacesAndNewlines) == ConciergeVersion.current)
        await server.stop()
    }

    @Test func aForeignFileInTheDataFolderIsReportedAndLeftAlone() async throws {
        let cli = CLI()
        let folder = cli.home.appendingPathComponent("accounts")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("notes.sqlite")
        try Data("my notes".utf8).write(to: path)
        let inbox = try await cli.run("inbox")
        #expect(inbox.status != 0)
        #expect(inbox.output.contains("is not a Concierge replica file; it was left untouched"), "\(inbox.output)")
        #expect(try Data(contentsOf: path) == Data("my notes".utf8))
    }

    @Test func aCrashBetweenPushAndAcknowledgementSendsAgainAndGetsTheStoredOutcome() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        let anna = try await Self.enrolled("anna", on: server)
        try await anna.run("case", "new", "--subject", "Crash", "--message", "once")
        // The push reaches the server, then the device dies before it records the answer.
        let file = try ReplicaFile.open(path: anna.replicaPath)
        let replica = Replica(store: file)
        let batch = try replica.nextPushBatch(limit: 10)
        let transport = HTTPSyncTransport(session: try file.account().session) { try? file.saveSession($0) }
        let lost = try await transport.push(PushRequest(changeSets: batch))
        #expect(lost.outcomes.map(\.status) == [.accepted])
        try file.close()
        // After the restart, the CLI pushes the set again; the server answers with the stored outcome.
        let sync = try await anna.run("sync", "--json")
        #expect(sync.json?.arrayValue?.first?["pushed"] == 1, "\(sync.output)")
        #expect(try await anna.pending() == 0)
        let ben = try await Self.enrolled("ben", on: server)
        let cases = try #require(await ben.run("inbox", "--json").json?.arrayValue)
        #expect(cases.count == 1)
        let shown = try await ben.run("case", "show", String(cases[0]["id"]!.stringValue!.prefix(8)), "--json")
        #expect(shown.json?["timeline"]?.arrayValue?.count == 1)  // once, not twice
        await server.stop()
    }
}
