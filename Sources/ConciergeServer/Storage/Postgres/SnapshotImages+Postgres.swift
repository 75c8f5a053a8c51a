import ConciergeCore
import Foundation
import Logging
import PostgresNIO

extension SnapshotImages {
    /// The advisory lock a batch holds for its transaction: one instance builds at a time (the
    /// others find it taken and leave the work to it).
    static let postgresLock: Int64 = 7_243_018

    /// The builder of the PostgreSQL engine: each batch is one transaction on a connection of its
    /// own, beside the push writer's, and reads its records in a snapshot on another.
    /// - Parameter observer: a test's (``StoreObserver/betweenImageRows()``).
    static func postgres(client: PostgresClient, background: Bool, logger: Logger, observer: any StoreObserver)
        -> SnapshotImages
    {
        SnapshotImages(background: background, logger: logger) { position, waits in
            try await PostgresServerStore.write(client: client, logger: logger) { connection, logger in
                try await batch(
                    after: position, waits: waits, connection, logger,
                    read: { keys in
                        // A snapshot of its own: the batch's transaction reads committed, where each
                        // statement may see a later commit, and a push committing between the
                        // field rows and the entry rows would leave entries without their log row.
                        // (It takes a second connection while the batch holds one: a pool needs
                        // room for both besides the pushes.)
                        try await PostgresServerStore.read(client: client, logger: logger) { reader, logger in
                            try await PostgresReader(connection: reader, logger: logger).wholeRecords(
                                keys, afterFields: observer.betweenImageRows)
                        }
                    })
            }
        }
    }

    /// Reads the next records in log order after `position` whose image is missing or stale (each
    /// whole, with `read`), and writes their images. The batch's transaction reads committed: an
    /// image read while its record changes again carries the older `last_seq`, so it is stale at
    /// once, not written, and built again.
    static func batch(
        after position: Position?, waits: Bool, _ connection: PostgresConnection, _ logger: Logger,
        read: @Sendable ([RecordKey]) async throws -> [RecordKey: Record]
    ) async throws -> Batch {
        var start = Position(seq: -1, type: "", id: "")
        if let position {
            start = position
        } else if let saved = try await connection.query(
            "SELECT value FROM server_meta WHERE key = 'image_position'", logger: logger
        ).collect().first.flatMap({ Int64(try $0.decode(String.self)) }) {
            start.seq = saved
        }
        if waits {
            try await connection.query("SELECT pg_advisory_xact_lock(\(postgresLock))", logger: logger)
        } else {
            guard try await connection.one("SELECT pg_try_advisory_xact_lock(\(postgresLock))", Bool.self, logger)
            else {
                // Another builder (this instance's own catch-up, or another instance) has the batch.
                return Batch(next: start, more: false, lag: 0)
            }
        }
        let rows = try await connection.query(
            """
            SELECT type, id, last_seq FROM record
            WHERE last_seq >= \(start.seq) AND (last_seq, type, id) > (\(start.seq), \(start.type), \(start.id))
            ORDER BY last_seq, type, id LIMIT \(batchSize + 1)
            """, logger: logger
        ).collect().map { try $0.decode((String, String, Int64).self) }
        let more = rows.count > batchSize
        var candidates: [RecordKey: Int64] = [:]
        var next = start
        for (type, id, seq) in rows.prefix(batchSize) {
            next = Position(seq: seq, type: type, id: id)
            candidates[RecordKey(type: RecordType(type), id: RecordID(id))] = seq
        }
        if !candidates.isEmpty {
            let keys = Array(candidates.keys)
            for row in try await connection.query(
                """
                SELECT i.type, i.id FROM record_image i
                JOIN unnest(\(keys.map(\.type.rawValue))::text[], \(keys.map(\.id.rawValue))::text[],
                    \(keys.map { candidates[$0]! })::bigint[]) AS k(type, id, seq)
                    ON i.type = k.type AND i.id = k.id AND i.seq = k.seq
                """, logger: logger
            ).collect() {
                let (type, id) = try row.decode((String, String).self)
                candidates[RecordKey(type: RecordType(type), id: RecordID(id))] = nil
            }
        }
        let records = candidates.isEmpty ? [:] : try await read(Array(candidates.keys))
        let images = records.values.map { Image($0, seq: candidates[$0.key]!) }
        if !images.isEmpty {
            // Only images still current when written (a record changed since the read keeps no
            // copy of its older state here, but for a change committing while this statement runs:
            // that image is stale, never sent, and replaced by the next batch).
            try await connection.query(
                """
                INSERT INTO record_image (type, id, seq, internal, image)
                SELECT k.type, k.id, k.seq, k.internal, k.image
                FROM unnest(\(images.map(\.key.type.rawValue))::text[], \(images.map(\.key.id.rawValue))::text[],
                    \(images.map(\.seq))::bigint[], \(images.map(\.hidesInternal))::boolean[],
                    \(images.map { ByteBuffer(bytes: $0.bytes) })::bytea[]) AS k(type, id, seq, internal, image)
                JOIN record r ON r.type = k.type AND r.id = k.id AND r.last_seq = k.seq
                ON CONFLICT (type, id) DO UPDATE SET seq = excluded.seq, internal = excluded.internal,
                    image = excluded.image
                WHERE excluded.seq > record_image.seq
                """, logger: logger)
            try await connection.query(
                """
                INSERT INTO server_meta (key, value) VALUES ('image_position', \(String(next.seq)))
                ON CONFLICT (key) DO UPDATE SET value = excluded.value
                """, logger: logger)
        }
        let head = try await connection.one("SELECT seq FROM log_head", Int64.self, logger)
        return Batch(next: next, more: more, lag: more ? max(0, Int(head - next.seq)) : 0)
    }
}
