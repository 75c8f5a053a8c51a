import ConciergeCore
import Foundation
import GRDB
import Logging
import Synchronization

/// Keeps an image of every record (the whole record in the binary form, `record_image`) ready for
/// snapshot pages, so that a page reads one row per record and copies it into the answer instead of
/// reading a dozen rows per record, decoding them and encoding the record again.
///
/// The push does not build images: it writes only the rows a change touches. This builder follows
/// it in the background, in log order: it reads the records changed since its last pass on a
/// reader connection (beside the writer) and writes their images in short transactions of their
/// own. An image carries the record's `last_seq` when it was read; a snapshot page uses an image
/// only while that is still the record's `last_seq`, and reads the record's rows otherwise. A
/// stale or missing image costs speed, never correctness.
///
/// While pushes keep arriving it builds one batch per ``busyInterval``, so that it takes little
/// of the writer; once they stop, it catches up batch after batch.
final class SnapshotImages: Sendable {
    /// Records per batch: one read, one write transaction.
    static let batchSize = 500
    /// How long after a commit a pass starts (commits in between join it).
    static let delay: Duration = .milliseconds(200)
    /// The pace while writes keep arriving: one batch per interval.
    static let busyInterval: Duration = .seconds(1)

    private let pool: DatabasePool
    private let checkpointer: WALCheckpointer
    private let logger: Logger
    /// Whether the builder runs by itself (otherwise only ``catchUp()`` builds).
    private let background: Bool
    private let state = Mutex(State())

    private struct State {
        var running = false
        /// Commits since the builder last looked.
        var commits = 0
        var closed = false
        var finished: [CheckedContinuation<Void, Never>] = []
        /// Where the builder stands: every record last changed at or before it had an image built.
        var position: Position?
        /// Log positions between the builder's position and the log's head, as of its last batch
        /// (0 once it has caught up; `nil` before the first batch).
        var pending: Int?
        var observer: (@Sendable (Int) -> Void)?
    }

    /// A place in the log order of records: `(last_seq, type, id)`.
    struct Position: Sendable {
        var seq: Int64
        var type: String
        var id: String
    }

    init(pool: DatabasePool, checkpointer: WALCheckpointer, background: Bool = true, logger: Logger) {
        self.pool = pool
        self.checkpointer = checkpointer
        self.background = background
        self.logger = logger
    }

    /// Calls `observer` after each batch with how many log positions the builder is behind the
    /// log's head (for the metrics; 0 once it has caught up).
    func observe(_ observer: @escaping @Sendable (Int) -> Void) {
        let pending = state.withLock { state in
            state.observer = observer
            return state.pending
        }
        if let pending { observer(pending) }
    }

    /// Log positions the builder is behind as of its last batch; `nil` before the first.
    var pending: Int? { state.withLock { $0.pending } }

    /// Starts the builder: the first pass runs at once (images may be missing or stale since the
    /// last start).
    func start() {
        let start = state.withLock { state -> Bool in
            guard background, !state.running, !state.closed else { return false }
            state.running = true
            return true
        }
        if start { Task.detached { await self.run(waitFirst: false) } }
    }

    /// A write committed: build its records' images soon.
    func commitFinished() {
        let start = state.withLock { state -> Bool in
            state.commits += 1
            guard background, !state.running, !state.closed else { return false }
            state.running = true
            return true
        }
        if start { Task.detached { await self.run(waitFirst: true) } }
    }

    /// Waits for a running pass and starts no more.
    func close() async {
        state.withLock { $0.closed = true }
        await idle()
    }

    /// Waits until the builder has nothing left to do (it has caught up, and no commit waits for
    /// it), or was closed.
    func idle() async {
        await withCheckedContinuation { continuation in
            let wait = state.withLock { state -> Bool in
                guard state.running else { return false }
                state.finished.append(continuation)
                return true
            }
            if !wait { continuation.resume() }
        }
    }

    /// Builds batches until every record has a current image (for tests and tools: the builder
    /// does it by itself, paced).
    func catchUp() async throws {
        while try await buildBatch() {}
    }

    private func run(waitFirst: Bool) async {
        var pause: Duration? = waitFirst ? Self.delay : nil
        while true {
            if let pause { try? await Task.sleep(for: pause) }
            let commitsBefore = state.withLock { state in
                defer { state.commits = 0 }
                return state.commits
            }
            var more = false
            do {
                more = try await buildBatch()
            } catch {
                logger.error("building snapshot images failed", metadata: [LogKey.error: "\(error)"])
            }
            let (stop, waiting, next) = state.withLock {
                state -> (Bool, [CheckedContinuation<Void, Never>], Duration?) in
                if state.closed || (!more && state.commits == 0) {
                    state.running = false
                    defer { state.finished = [] }
                    return (true, state.finished, nil)
                }
                // Writes keep arriving: leave the writer to them, one batch per interval. Idle: go on.
                let busy = state.commits > 0 || commitsBefore > 0
                return (false, [], more ? (busy ? Self.busyInterval : nil) : Self.delay)
            }
            if stop {
                for continuation in waiting { continuation.resume() }
                return
            }
            pause = next
        }
    }

    /// Builds the images of the next batch of records changed since the builder's position.
    /// - Returns: whether more may be left.
    private func buildBatch() async throws -> Bool {
        let position = state.withLock { $0.position }
        let batch = try await pool.read { db in try Self.read(after: position, in: db) }
        if !batch.images.isEmpty {
            try await pool.write { db in
                for image in batch.images {
                    try db.cachedExecute(
                        sql: """
                            INSERT INTO record_image (type, id, seq, internal, image) VALUES (?, ?, ?, ?, ?)
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
        let observer = state.withLock { state -> (@Sendable (Int) -> Void)? in
            state.position = batch.next
            state.pending = batch.pending
            return state.observer
        }
        observer?(batch.pending)
        return batch.more
    }

    struct Image {
        var key: RecordKey
        var seq: Int64
        var hidesInternal: Bool
        var bytes: [UInt8]
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
        let images = try RecordRows.loadWhole(wanted.map(\.key), in: db).map { record in
            Image(
                key: record.key, seq: seqs[record.key]!, hidesInternal: Projection.hidesInternal(record),
                bytes: record.binary)
        }
        // How far behind the log's head the builder is, in log positions (a count of the records
        // changed after it would walk the index on every batch).
        let pending = more ? max(0, Int(try SQLiteServerStore.head(in: db)) - Int(next.seq)) : 0
        return (images, next, more, pending)
    }
}

extension Change {
    /// Whether the change erases personal data (of the record, or of one entry).
    var erases: Bool {
        switch self {
        case .redact, .redactEntry: true
        default: false
        }
    }
}
