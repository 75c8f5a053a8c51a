import Foundation
import GRDB
import Logging
import Testing

@testable import ConciergeServer

/// What SQLite's settings promise an operator (docs/operations.md): a set the server acknowledged
/// survives power loss, not only a killed process. A SIGKILL test cannot show that (the operating
/// system keeps what was written), so the setting itself is checked, on the push writer and on a reader. (The checkpointer's
/// connection is a plain queue, which keeps the FULL it is given.)
@Suite struct SQLiteDurabilityTests {
    @Test func theWriterAndTheReadersSyncCommitsToDisk() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("durability-\(UUID()).sqlite").path
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        var logger = Logger(label: "durability")
        logger.logLevel = .warning
        let store = try SQLiteServerStore(path: path, logger: logger)
        // 2 is FULL: the log is synced at every commit. (The pool sets NORMAL, 1, on its writer
        // when it turns the log on; the store must set FULL again after that.)
        let writer = try await store.pool.writeWithoutTransaction { db in
            try Int.fetchOne(db, sql: "PRAGMA synchronous")
        }
        let reader = try await store.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(writer == 2)
        #expect(reader == 2)
        let mode = try await store.pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
        await store.close()
    }
}
