import Foundation

/// The release `concierge-server` as a process of its own on a data folder, on a free loopback
/// port (read back from its port file).
public struct ServerProcess {
    public let process: Process
    public let url: URL

    /// Starts `binary serve` on `data` with `environment`, and waits (up to 10 s) until it listens.
    public static func start(binary: URL, data: URL, environment: [String: String]) async throws -> ServerProcess {
        let portFile = data.appendingPathComponent("port")
        let process = Process()
        process.executableURL = binary
        process.arguments = ["serve", "--data", data.path, "--port", "0", "--port-file", portFile.path]
        process.environment = environment
        try process.run()
        for _ in 0..<200 {
            if let text = try? String(contentsOf: portFile, encoding: .utf8), !text.isEmpty {
                return ServerProcess(process: process, url: URL(string: "http://127.0.0.1:\(text)/")!)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        fatalError("the server did not start")
    }
}

/// Seconds since `start`, as a fraction.
public func seconds(since start: ContinuousClock.Instant) -> Double {
    let duration = ContinuousClock.now - start
    return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
