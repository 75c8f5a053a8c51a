import ConciergeServer
import Foundation
import Logging

/// The server store an in-process benchmark pushes to: PostgreSQL at `BENCH_DATABASE_URL` (an
/// empty database), else SQLite in a fresh folder, removed by ``remove()``. Logs errors only.
public struct BenchStore {
    public let store: any ServerStore
    /// `SQLite` or `PostgreSQL`, for the figures' lines.
    public let engine: String
    let folder: URL

    /// - Parameter name: names the temporary folder (`concierge-<name>-<uuid>`).
    public static func open(_ name: String) async throws -> BenchStore {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("concierge-\(name)-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        if let url = ProcessInfo.processInfo.environment["BENCH_DATABASE_URL"] {
            return BenchStore(
                store: try await PostgresServerStore.connect(url: url, logger: logger), engine: "PostgreSQL",
                folder: folder)
        }
        return BenchStore(
            store: try SQLiteServerStore(path: folder.appendingPathComponent("concierge.sqlite").path, logger: logger),
            engine: "SQLite", folder: folder)
    }

    /// Removes the SQLite folder.
    public func remove() { try? FileManager.default.removeItem(at: folder) }
}
