import ConciergeCore
import Foundation
import GRDB
import Logging

extension SnapshotImages {
    /// The builder of the SQLite engine: each batch reads on a reader connection of `pool`, beside
    /// the writer, and writes on the writer in a transaction of its own.
    static func sqlite(pool: DatabasePool, checkpointer: WALCheckpointer, background: Bool, logger: Logger)
        -> SnapshotImages
    {
        // One writer: there is no other builder to wait for.
        SnapshotImages(background: background, logger: logger) { position, _ in
            let batch = try await pool.read { db in try read(after: position, in: db) }
            if !batch.images.isEmpty {
                try await pool.write { db in
                    // Only images still current when written: a record changed since the read (an
                    // erasure, say) keeps no copy of its older state here.
                    for image in batch.images {
                        try db.cachedExecute(
                            sql: """
                                INSERT INTO record_image (type, id, seq, internal, image)
                                SELECT ?1, ?2, ?3, ?4, ?5
                                WHERE EXISTS (SELECT 1 FROM record WHERE type = ?1 AND id = ?2 AND last_seq = ?3)
                                ON CONFLICT (type, id) DO UPDATE SET seq = excluded.seq, internal = excluded.internal,
                                    image = excluded.image
                                WHERE excluded.seq > record_image.seq
                                """,
                            arguments: [
                                image.key.type.rawValue, image.key.id.rawValue, image.seq, image.hidesInternal,
                                Data(image.bytes),
                            ])
                    }
                    // Where the next start begins (records at this position come again, and are skipped).
                    try db.cachedExecute(
                        sql: """
                            INSERT INTO server_meta (key, value) VALUES ('image_position', ?)
                            ON CONFLICT (key) DO UPDATE SET value = excluded.value
                            """, arguments: [String(batch.next.seq)])
                }
                checkpointer.commitFinished()
            }
            return Batch(next: batch.next, more: batch.more, lag: batch.pending)
        }
    }

    /// The images of the next records in log order after `position` whose image is missing or
    /// stale, read in one transaction; the position reached, and how far behind the head it is.
    static func read(after position: Position?, in db: Database) throws -> (
        images: [Image], next: Position, more: Bool, pending: Int
    ) {
        // The first pass after a start begins where the last run's last write left off.
        var start = Position(seq: -1, type: "", id: "")
        if let position {
            start = position
        } else if let saved = try String.fetchOne(
            db, sql: "SELECT value FROM server_meta WHERE key = 'image_position'"
        ).flatMap({ Int64($0) }) {
            start.seq = saved
        }
        // The bound on last_seq alone lets SQLite walk its index from the position.
        let rows = try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT type, id, last_seq FROM record
                    WHERE last_seq >= ? AND (last_seq, type, id) > (?, ?, ?)
                    ORDER BY last_seq, type, id LIMIT ?
                    """),
            arguments: [start.seq, start.seq, start.type, start.id, batchSize + 1])
        let more = rows.count > batchSize
        var candidates: [(key: RecordKey, seq: Int64)] = []
        var next = start
        for row in rows.prefix(batchSize) {
            let (type, id, seq): (String, String, Int64) = (row[0], row[1], row[2])
            next = Position(seq: seq, type: type, id: id)
            candidates.append((RecordKey(type: RecordType(type), id: RecordID(id)), seq))
        }
        // Records whose image is current (built before a restart, or before a later change of
        // another record moved them) are skipped.
        var current = Set<RecordKey>()
        if !candidates.isEmpty {
            let list = candidates.map { _ in "(?, ?, ?)" }.joined(separator: ",")
            var values: [(any DatabaseValueConvertible)?] = []
            for candidate in candidates {
                values += [candidate.key.type.rawValue, candidate.key.id.rawValue, candidate.seq]
            }
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT i.type, i.id FROM (VALUES \(list)) AS k
                    JOIN record_image AS i ON i.type = k.column1 AND i.id = k.column2 AND i.seq = k.column3
                    """, arguments: StatementArguments(values))
            {
                current.insert(RecordKey(type: RecordType(row[0]), id: RecordID(row[1])))
            }
        }
        let wanted = candidates.filter { !current.contains($0.key) }
        let seqs = Dictionary(wanted.map { ($0.key, $0.seq) }, uniquingKeysWith: max)
        let images = try RecordRows.loadWhole(wanted.map(\.key), in: db).map { Image($0, seq: seqs[$0.key]!) }
        // How far behind the log's head the builder is, in log positions (a count of the records
        // changed after it would walk the index on every batch).
        let pending = more ? max(0, Int(try SQLiteServerStore.head(in: db)) - Int(next.seq)) : 0
        return (images, next, more, pending)
    }
}
