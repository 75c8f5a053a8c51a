import AsyncHTTPClient
import ConciergeClient
import ConciergeCore
import ConciergeServer
import Foundation
import Logging
import NIOCore
import Testing

/// The real `concierge-server` process, killed with SIGKILL at random moments while a client
/// pushes large batches, then restarted: every acknowledged set is there, none is half-applied,
/// and the client resumes.
@Suite struct CrashTests {
    /// Rounds of kill and restart: `CONCIERGE_KILL_ROUNDS` (make test: 20, make soak: 100).
    static let rounds = ProcessInfo.processInfo.environment["CONCIERGE_KILL_ROUNDS"].flatMap(Int.init) ?? 20
    static let entriesPerSet = 5

    static var binary: URL {
        let binary = Repository.path(".build/debug/concierge-server")
        precondition(
            FileManager.default.isExecutableFile(atPath: binary.path), "build concierge-server first (make test does)")
        return binary
    }

    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Starts the server and waits until it answers `/healthz`.
    static func start(data: URL, port: Int, arguments extra: [String] = []) async throws -> (Process, Int) {
        let portFile = data.appendingPathComponent("port-\(UUID().uuidString)")
        let process = Process()
        process.executableURL = binary
        process.arguments =
            ["serve", "--data", data.path, "--port", String(port), "--port-file", portFile.path] + extra
        process.environment = ["CONCIERGE_LOG_LEVEL": "error"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<500 {
            if let text = try? String(contentsOf: portFile, encoding: .utf8), let bound = Int(text) {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(bound)/healthz")
                request.method = .GET
                if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(2)),
                    response.status == .ok
                {
                    return (process, bound)
                }
            }
            try await Task.sleep(for: .milliseconds(10))  // polling for readiness, not synchronisation
        }
        process.terminate()
        throw SyncError(.unavailable, "the server did not come up")
    }

    /// The sets the replica knows the server accepted.
    static func acknowledged(_ device: TestDevice) throws -> Set<ChangeSetID> {
        try device.replica.store.read { reader in Set(try reader.outbox().filter(\.isAcknowledged).map(\.id)) }
    }

    @Test(.timeLimit(.minutes(10))) func killedServerLosesNothingAcknowledgedAndHalfAppliesNothing() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("concierge-crash-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        _ = try Self.run(["admin", "create-provider", "acme", "--data", data.path])
        _ = try Self.run([
            "admin", "create-principal", "ben", "--provider", "acme", "--role", "agent", "--data", data.path,
        ])
        let code = try Self.run(["admin", "issue-code", "ben", "--data", data.path])
        var (server, port) = try await Self.start(data: data, port: 0)
        let session = try await HTTPSyncTransport.enrol(
            server: URL(string: "http://127.0.0.1:\(port)/")!, code: code, deviceName: "crash")
        // The replica keeps delivered sets, so every acknowledged id stays visible to the test.
        let device = TestDevice(session: session)
        let key = RecordKey(type: .serviceCase, id: RecordID(UUID().uuidString.lowercased()))
        try device.edit { editor in
            try editor.write("acme", to: CaseFields.provider, of: key)
            try editor.write("anna", to: CaseFields.customer, of: key)
        }
        let body = Value.string(String(repeating: "x", count: 2_000))
        var random = SplitMix64(seed: 20_261_122)
        let made = IDLog()
        var kills = 0
        for round in 0..<Self.rounds {
            // A continuous stream of large pushes, killed at a random moment.
            let pusher = Task {
                while !Task.isCancelled {
                    for _ in 0..<20 {
                        guard
                            let set = try device.edit({ editor in
                                for index in 0..<Self.entriesPerSet {
                                    try editor.append(
                                        EntryKind.note, to: CaseFields.timeline, of: key, personal: ["body": body])
                                    _ = index
                                }
                            })
                        else { continue }
                        made.append(set.id)
                    }
                    _ = try? await device.sync()
                }
            }
            try await Task.sleep(for: .milliseconds(20 + Int(random.next() % 200)))  // fault injection: when to kill
            let acknowledgedBeforeKill = try Self.acknowledged(device)
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
            kills += 1
            pusher.cancel()
            _ = await pusher.result
            (server, _) = try await Self.start(data: data, port: port)
            // Everything acknowledged before the kill survived it.
            let store = try SQLiteServerStore(
                path: data.appendingPathComponent("concierge.sqlite").path, logger: Logger(label: "check"))
            let accepted = try await store.acceptedSets(of: session.replica)
            #expect(acknowledgedBeforeKill.isSubset(of: accepted), "round \(round): an acknowledged set is missing")
            _ = try await device.sync()  // the client resumes
        }
        _ = try await device.sync()
        _ = try await device.sync()
        #expect(try device.replica.outbox().isEmpty)
        let store = try SQLiteServerStore(
            path: data.appendingPathComponent("concierge.sqlite").path, logger: Logger(label: "check"))
        let record = try #require(try await store.record(key))
        let entries = record.log(CaseFields.timeline)?.entries ?? [:]
        // None half-applied: every set's entries are all there (the replica made each set's ids).
        #expect(entries.count == made.count * Self.entriesPerSet)
        #expect(made.count > 0)
        let stats = try await store.stats()
        // The log itself may be compacted by now (the server compacts when it starts).
        #expect(stats["accepted_outcome"] == made.count + 1)
        #expect(kills == Self.rounds)
        server.terminate()
        server.waitUntilExit()
    }
}

/// The ids of the sets made, appended from the pushing task.
final class IDLog: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: [ChangeSetID] = []
    func append(_ id: ChangeSetID) { lock.withLock { ids.append(id) } }
    var count: Int { lock.withLock { ids.count } }
}
