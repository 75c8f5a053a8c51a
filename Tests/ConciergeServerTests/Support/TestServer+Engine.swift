import ConciergeCore
import GRDB
import PostgresNIO
import Testing

@testable import ConciergeServer

extension TestServer {
    /// Sets a device's time column (`last_seen_at`, `rotated_at`) to 0, on either engine: the
    /// device looks unseen, or its rotation long past.
    func zeroDeviceColumn(_ column: String, of replica: ReplicaID) async throws {
        precondition(["last_seen_at", "rotated_at"].contains(column))
        switch store {
        case let store as SQLiteServerStore:
            try await store.pool.write { db in
                try db.execute(
                    sql: "UPDATE device SET \(column) = 0 WHERE replica_id = ?", arguments: [replica.description])
            }
        case let store as PostgresServerStore:
            try await store.write { connection, logger in
                try await connection.query(
                    "UPDATE device SET \(unescaped: column) = 0 WHERE replica_id = \(replica.description)",
                    logger: logger)
            }
        default:
            Issue.record("unknown engine \(type(of: store))")
        }
    }
}
