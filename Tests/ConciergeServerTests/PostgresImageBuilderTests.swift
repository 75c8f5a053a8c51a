import ConciergeCore
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing

@testable import ConciergeServer

/// The PostgreSQL builder of snapshot images reads each batch's records in one snapshot, while
/// pushes keep committing.
@Suite(.timeLimit(.minutes(2))) struct PostgresImageBuilderTests {
    /// A push that appends a case's first timeline entry commits while the builder reads that case,
    /// between its field rows and its entry rows. Read committed, the builder saw the entry without
    /// its timeline field and failed the whole batch as corrupt (seen under `make
    /// bench-server-postgres`); in its own snapshot it reads the case as it was, leaves the stale
    /// image unwritten, and builds the current one next.
    @Test func aPushCommittingDuringTheBuildersReadLeavesTheBatchWhole() async throws {
        let url = try await TestPostgres.freshDatabase()
        let interleaved = Mutex<(@Sendable () async throws -> Void)?>(nil)
        let observer = TestObserver(onBetweenImageRows: {
            let step = interleaved.withLock { step in
                defer { step = nil }
                return step
            }
            try await step?()
        })
        var logger = Logger(label: "image-builder")
        logger.logLevel = .critical
        let store = try await PostgresServerStore.connect(
            url: url, maxConnections: 4, snapshotImages: false, logger: logger, options: .init(observer: observer))
        let callers = try await PostgresRecordCacheTests.setUp(store)
        var clock = HybridLogicalClock()
        let wall = RecordCacheTests.now
        let key = RecordKey(type: .serviceCase, id: "c1")
        let opened = try await store.push(
            [
                RecordCacheTests.set(
                    callers[0], seq: 1, case: "c1", RecordCacheTests.opening("c1"), wall: wall, clock: &clock)
            ],
            from: callers[0], serverMillis: wall + 1_000)
        #expect(opened.outcomes.map(\.status) == [.accepted])
        let appended = RecordCacheTests.set(
            callers[0], seq: 2, case: "c1", [(CaseFields.priority, "high")], wall: wall + 1, clock: &clock, append: "n1"
        )
        let pushed = Mutex<[PushOutcome]>([])
        interleaved.withLock { step in
            step = {
                let result = try await store.push([appended], from: callers[0], serverMillis: wall + 1_000)
                pushed.withLock { $0 = result.outcomes }
            }
        }

        try await store.buildSnapshotImages()

        #expect(pushed.withLock { $0.map(\.status) } == [.accepted])
        // The image read before the push is stale and was not written; the next pass builds the
        // current one, entry included.
        try await store.buildSnapshotImages()
        let (image, seq, lastSeq) = try await store.read { connection, logger in
            let rows = try await connection.query(
                """
                SELECT i.image, i.seq, r.last_seq FROM record r LEFT JOIN record_image i ON i.type = r.type AND i.id = r.id
                WHERE r.type = \(key.type.rawValue) AND r.id = \(key.id.rawValue)
                """, logger: logger
            ).collect()
            return try rows[0].decode((ByteBuffer?, Int64?, Int64).self)
        }
        #expect(seq == lastSeq)
        let record = try Record(binary: Array(try #require(image).readableBytesView))
        #expect(record == (try await store.record(key)))
        #expect(ServiceCase(record)?.timeline.map(\.id) == [EntryID("n1")])
        await store.close()
    }
}
