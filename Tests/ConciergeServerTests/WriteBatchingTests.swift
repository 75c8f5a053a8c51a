import ConciergeCore
import Foundation
import GRDB
import Logging
import Synchronization
import Testing

@testable import ConciergeServer

/// The background checkpoint of the SQLite engine.
@Suite struct WriteBatchingTests {
    @Test func theDatabaseFileItselfHoldsWhatWasCommittedOnceTheCheckpointRan() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("concierge-wal-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("concierge.sqlite").path
        let store = try SQLiteServerStore(path: path, logger: Logger(label: "test"))
        try await store.createProvider(id: "acme", name: "Acme")
        await store.close()  // waits for the checkpoint the write started
        // Only the database file, without its log: the checkpoint copied the write into it (the
        // writer's own checkpoint would wait for thousands of pages).
        let copy = folder.appendingPathComponent("copy.sqlite").path
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        let names = try await DatabaseQueue(path: copy).read {
            try String.fetchAll($0, sql: "SELECT name FROM provider")
        }
        #expect(names == ["Acme"])
    }
}
