import AsyncHTTPClient
import ConciergeClient
import ConciergeCore
import Foundation
import Logging
import Testing

@testable import ConciergeServer

/// Change-log followers: at least once, in log order, resuming from their stored position, and
/// holding compaction back.
@Suite struct FollowerTests {
    /// What a follower handled, in the order it got it.
    final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var seqs: [UInt64] = []
        var failNext = false
        func take(_ sets: [LoggedChangeSet]) throws {
            try lock.withLock {
                if failNext {
                    failNext = false
                    throw StoreError(.database, "the effect failed")
                }
                seqs += sets.map(\.seq)
            }
        }
        var all: [UInt64] { lock.withLock { seqs } }
    }

    static func step(_ store: any ServerStore, _ collected: Collected, limit: Int = 500) async throws -> Int {
        try await store.follow("test", limit: limit) { sets in try collected.take(sets) }
    }

    @Test(arguments: Engine.allCases) func aFollowerResumesWhereItStoppedAndLosesNothing(engine: Engine)
        async throws
    {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let anna = try await server.device("anna")
        let key = try SyncIntegrationTests.newCase(anna, subject: "Router")
        try await anna.sync()
        for rating in 1...5 {
            try anna.edit { try $0.write(.int(Int64(rating)), to: CaseFields.rating, of: key) }
            try await anna.sync()
        }
        let collected = Collected()
        // Batches of two: the first steps hand over 1-2 and 3-4.
        #expect(try await Self.step(server.store, collected, limit: 2) == 2)
        #expect(try await Self.step(server.store, collected, limit: 2) == 2)
        #expect(try await server.store.followerPosition("test") == 4)
        // A failing effect leaves the position: its batch comes again.
        collected.failNext = true
        await #expect(throws: StoreError.self) { try await Self.step(server.store, collected, limit: 2) }
        #expect(try await server.store.followerPosition("test") == 4)
        // A new follower object (a restart) under the same name goes on from the stored position.
        let restarted = Collected()
        #expect(try await Self.step(server.store, restarted) == 2)
        #expect(try await Self.step(server.store, restarted) == 0)
        #expect(collected.all + restarted.all == [1, 2, 3, 4, 5, 6])
        // The change sets are the log's, decoded.
        let first = try #require(
            try await { () async throws -> [LoggedChangeSet] in
                let box = Box()
                _ = try await server.store.follow("second", limit: 1) { box.sets = $0 }
                return box.sets
            }().first)
        #expect(first.changeSet.keys == [key])
        await server.stop()
    }

    final class Box: @unchecked Sendable { var sets: [LoggedChangeSet] = [] }

    /// Compaction never deletes what a follower has not handled.
    @Test(arguments: Engine.allCases) func compactionWaitsForFollowers(engine: Engine) async throws {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let anna = try await server.device("anna")
        let key = try SyncIntegrationTests.newCase(anna, subject: "Router")
        try await anna.sync()
        let collected = Collected()
        #expect(try await Self.step(server.store, collected) == 1)
        for rating in 1...3 {
            try anna.edit { try $0.write(.int(Int64(rating)), to: CaseFields.rating, of: key) }
            try await anna.sync()
        }
        try await anna.sync()  // acknowledges the head, 4
        #expect(try await server.store.compact() == 1)
        #expect(try await Self.step(server.store, collected) == 3)
        #expect(try await server.store.compact() == 4)
        #expect(collected.all == [1, 2, 3, 4])
        await server.stop()
    }

    /// The real server process with its audit trail, killed while pushes stream in and the trail
    /// follows them, then restarted: every accepted change set reaches the trail (at least once),
    /// and no line is torn.
    @Test(.timeLimit(.minutes(5))) func theAuditTrailLosesNothingWhenTheServerIsKilled() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("concierge-audit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let trail = data.appendingPathComponent("audit.jsonl")
        _ = try CrashTests.run(["admin", "create-provider", "acme", "--data", data.path])
        _ = try CrashTests.run([
            "admin", "create-principal", "ben", "--provider", "acme", "--role", "agent", "--data", data.path,
        ])
        let code = try CrashTests.run(["admin", "issue-code", "ben", "--data", data.path])
        let arguments = ["--audit-log", trail.path]
        var (server, port) = try await CrashTests.start(data: data, port: 0, arguments: arguments)
        let session = try await HTTPSyncTransport.enrol(
            server: URL(string: "http://127.0.0.1:\(port)/")!, code: code, deviceName: "audit")
        let device = TestDevice(session: session)
        let key = RecordKey(type: .serviceCase, id: RecordID(UUID().uuidString.lowercased()))
        try device.edit { editor in
            try editor.write("acme", to: CaseFields.provider, of: key)
            try editor.write("anna", to: CaseFields.customer, of: key)
        }
        var random = SplitMix64(seed: 20_261_207)
        let rounds = max(3, CrashTests.rounds / 4)
        for _ in 0..<rounds {
            // Each round pushes some sets for sure, then keeps pushing until the kill (notes: the
            // outbox does not coalesce them, as it would writes of one field).
            for index in 0..<20 {
                _ = try device.edit { editor in
                    try editor.note(on: key, body: "note \(index)")
                }
            }
            _ = try await device.sync()
            let pusher = Task {
                while !Task.isCancelled {
                    for index in 0..<20 {
                        _ = try device.edit { editor in
                            try editor.note(on: key, body: "note \(index)")
                        }
                    }
                    _ = try? await device.sync()
                }
            }
            try await Task.sleep(for: .milliseconds(50 + Int(random.next() % 300)))  // fault injection: when to kill
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
            pusher.cancel()
            _ = await pusher.result
            (server, _) = try await CrashTests.start(data: data, port: port, arguments: arguments)
            _ = try await device.sync()
        }
        _ = try await device.sync()
        #expect(try device.replica.outbox().isEmpty)
        let accepted = try CrashTests.acknowledged(device)
        // The trail catches up by itself; poll it until it holds every accepted set (or time out).
        var lines: [Value] = []
        for _ in 0..<1_000 {
            let text = (try? String(contentsOf: trail, encoding: .utf8)) ?? ""
            #expect(text.isEmpty || text.hasSuffix("\n"))
            lines = try text.split(separator: "\n").map { try CanonicalJSON.decode(String($0)) }
            let logged = Set(lines.compactMap { $0["set"]?.stringValue })
            if accepted.allSatisfy({ logged.contains("\($0.replica)/\($0.seq)") }) { break }
            try await Task.sleep(for: .milliseconds(20))  // polling a file another process writes
        }
        let logged = Set(lines.compactMap { $0["set"]?.stringValue })
        #expect(accepted.count >= 20 * rounds)
        for id in accepted {
            #expect(logged.contains("\(id.replica)/\(id.seq)"), "set \(id.seq) never reached the trail")
        }
        // In log order, repeats (at least once) aside.
        let seqs = lines.compactMap { $0["seq"]?.intValue }
        #expect(Set(seqs).count == accepted.count)
        #expect(lines.allSatisfy { $0["author"] == "ben" && $0["changes"]?.arrayValue?.isEmpty == false })
        let mode = try FileManager.default.attributesOfItem(atPath: trail.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        server.terminate()
        server.waitUntilExit()
    }
}
