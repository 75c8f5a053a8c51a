import Foundation

/// Runs a program to completion off the Swift concurrency pool: waiting for a child process blocks
/// a thread, and an in-process server needs the pool's threads to answer that very child.
public enum ProcessRunner {
    public struct Output: Sendable {
        public let status: Int32
        /// Standard output and standard error, interleaved.
        public let text: String
    }

    public static func run(_ binary: URL, _ arguments: [String], environment: [String: String] = [:]) async throws
        -> Output
    {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                let process = Process()
                process.executableURL = binary
                process.arguments = arguments
                process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
                let pipe = Pipe()
                process.standardOutput = pipe
                process.standardError = pipe
                do { try process.run() } catch {
                    continuation.resume(throwing: error)
                    return
                }
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(
                    returning: Output(status: process.terminationStatus, text: String(decoding: data, as: UTF8.self)))
            }
        }
    }
}
