import ConciergeHarness
import ConciergeServer
import Foundation
import Testing

/// `concierge-server serve` as an operator starts it: a port it cannot have, or a setting out of
/// range, ends it at once with a clear message and a non-zero status.
@Suite(.timeLimit(.minutes(1))) struct ServeTests {
    static let binary = Repository.path(".build/debug/concierge-server")

    static func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID().uuidString)").path
    }

    /// A port in use ended the server with nothing but this message. (Before, the failed bind left
    /// the background services spinning on the closed database, logging "compaction failed" about
    /// 14,000 times a second and ignoring SIGTERM: this test then ran into its time limit.)
    @Test func aPortInUseEndsTheServerAtOnceWithAClearMessage() async throws {
        let server = try await TestServer.start()
        let answer = try await ProcessRunner.run(
            Self.binary, ["serve", "--data", Self.folder(), "--port", String(server.port)])
        #expect(answer.status == 1)
        #expect(answer.text.contains("port \(server.port) on 127.0.0.1 is in use by another program"), "\(answer.text)")
        #expect(answer.text.split(separator: "\n").count < 5, "\(answer.text)")
        await server.stop()
    }

    @Test func anOutOfRangePortAndAnUnknownLogLevelAreRefused() async throws {
        let port = try await ProcessRunner.run(Self.binary, ["serve", "--data", Self.folder(), "--port", "99999"])
        #expect(port.status != 0)
        #expect(port.text.contains("--port must be 0 to 65535, not 99999"), "\(port.text)")
        let variable = try await ProcessRunner.run(
            Self.binary, ["serve", "--data", Self.folder()], environment: ["CONCIERGE_PORT": "70000"])
        #expect(variable.status != 0)
        #expect(variable.text.contains("CONCIERGE_PORT must be 0 to 65535"), "\(variable.text)")
        let level = try await ProcessRunner.run(
            Self.binary, ["serve", "--data", Self.folder()], environment: ["CONCIERGE_LOG_LEVEL": "loud"])
        #expect(level.status != 0)
        #expect(level.text.contains("CONCIERGE_LOG_LEVEL must be one of trace, debug, info"), "\(level.text)")
    }
}
