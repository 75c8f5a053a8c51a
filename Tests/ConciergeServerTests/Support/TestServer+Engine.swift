import ConciergeCore
import Foundation
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

extension TestServer {
    /// A stored field (`record_field`) or entry (`record_entry`) state as canonical JSON.
    static func json(ofStored bytes: [UInt8], in table: String) throws -> [UInt8] {
        table == "record_field"
            ? CanonicalJSON.encode(try BinaryForm.field(stored: bytes).value)
            : CanonicalJSON.encode(try BinaryForm.entry(stored: bytes).value)
    }

    /// Rewrites every stored field and entry state and every logged change set as canonical JSON,
    /// as versions before the binary forms stored them, on either engine. Returns how many rows it
    /// rewrote.
    func rewriteRowsAsJSON() async throws -> Int {
        switch store {
        case let store as SQLiteServerStore:
            return try await store.pool.write { db in
                var rewritten = 0
                for (table, key) in [("record_field", "field"), ("record_entry", "entry_id")] {
                    for row in try Row.fetchAll(db, sql: "SELECT type, id, \(key) AS k, state FROM \(table)") {
                        let state: Data = row["state"]
                        let json = try Self.json(ofStored: [UInt8](state), in: table)
                        try db.execute(
                            sql: "UPDATE \(table) SET state = ? WHERE type = ? AND id = ? AND \(key) = ?",
                            arguments: [Data(json), row["type"], row["id"], row["k"]])
                        rewritten += 1
                    }
                }
                for row in try Row.fetchAll(db, sql: "SELECT seq, change_set FROM change_log") {
                    let set = try BinaryForm.changeSet(stored: [UInt8](row["change_set"] as Data))
                    try db.execute(
                        sql: "UPDATE change_log SET change_set = ? WHERE seq = ?",
                        arguments: [Data(set.canonicalJSON), row["seq"]])
                    rewritten += 1
                }
                return rewritten
            }
        case let store as PostgresServerStore:
            return try await store.write { connection, logger in
                var rewritten = 0
                for (table, key) in [("record_field", "field"), ("record_entry", "entry_id")] {
                    let rows = try await connection.query(
                        "SELECT type, id, \(unescaped: key), state FROM \(unescaped: table)", logger: logger)
                    var updates: [(String, String, String, [UInt8])] = []
                    for try await (type, id, name, state) in rows.decode((String, String, String, ByteBuffer).self) {
                        let bytes = Array(state.readableBytesView)
                        let json = try Self.json(ofStored: bytes, in: table)
                        updates.append((type, id, name, json))
                    }
                    for (type, id, name, json) in updates {
                        try await connection.query(
                            """
                            UPDATE \(unescaped: table) SET state = \(ByteBuffer(bytes: json))
                            WHERE type = \(type) AND id = \(id) AND \(unescaped: key) = \(name)
                            """, logger: logger)
                        rewritten += 1
                    }
                }
                var sets: [(Int64, [UInt8])] = []
                let rows = try await connection.query("SELECT seq, change_set FROM change_log", logger: logger)
                for try await (seq, bytes) in rows.decode((Int64, ByteBuffer).self) {
                    sets.append((seq, try BinaryForm.changeSet(stored: Array(bytes.readableBytesView)).canonicalJSON))
                }
                for (seq, json) in sets {
                    try await connection.query(
                        "UPDATE change_log SET change_set = \(ByteBuffer(bytes: json)) WHERE seq = \(seq)",
                        logger: logger)
                    rewritten += 1
                }
                return rewritten
            }
        default:
            Issue.record("unknown engine \(type(of: store))")
            return 0
        }
    }
}

extension TestServer {
    /// Builds every missing or stale snapshot image now, on either engine.
    func buildSnapshotImages() async throws {
        switch store {
        case let store as SQLiteServerStore: try await store.buildSnapshotImages()
        case let store as PostgresServerStore: try await store.buildSnapshotImages()
        default: Issue.record("unknown engine \(type(of: store))")
        }
    }

    /// Waits until the background builder of snapshot images has caught up, on either engine.
    func snapshotImagesIdle() async {
        switch store {
        case let store as SQLiteServerStore: await store.snapshotImagesIdle()
        case let store as PostgresServerStore: await store.snapshotImagesIdle()
        default: Issue.record("unknown engine \(type(of: store))")
        }
    }

    /// The stored snapshot image of `key`, if any, on either engine.
    func storedImage(of key: RecordKey) async throws -> [UInt8]? {
        switch store {
        case let store as SQLiteServerStore:
            return try await store.pool.read { db in
                try Data.fetchOne(
                    db, sql: "SELECT image FROM record_image WHERE type = ? AND id = ?",
                    arguments: [key.type.rawValue, key.id.rawValue])
            }.map { [UInt8]($0) }
        case let store as PostgresServerStore:
            return try await store.read { connection, logger in
                try await connection.query(
                    "SELECT image FROM record_image WHERE type = \(key.type.rawValue) AND id = \(key.id.rawValue)",
                    logger: logger
                ).collect().first.map { Array(try $0.decode(ByteBuffer.self).readableBytesView) }
            }
        default:
            Issue.record("unknown engine \(type(of: store))")
            return nil
        }
    }
}
