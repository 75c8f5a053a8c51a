import Foundation
import GRDB
import Logging
import ServiceLifecycle

/// Copies the write-ahead log back into the database file on a connection of its own, so that the
/// one writer does not: SQLite's automatic checkpoint runs inside the commit that crosses its
/// threshold, and under a stream of pushes it took about a sixth of the writer's time.
///
/// A service of the store (``StoreServices``). After a commit the store calls ``commitFinished()``;
/// one passive checkpoint runs at a time, at most once per `interval`, and commits in between are
/// taken by the next one. A passive checkpoint never blocks the writer or a reader. The writer
/// keeps SQLite's own checkpoint at a higher threshold (``writerThreshold`` pages): with this one
/// keeping up, that one finds little left to copy, and it is what lets SQLite start the log file
/// over from its beginning.
final class WALCheckpointer: Service, Sendable {
    /// The writer's automatic checkpoint threshold, in pages (SQLite's default is 1,000).
    static let writerThreshold = 20_000

    private let queue: DatabaseQueue
    private let interval: Duration
    private let logger: Logger
    private let wakeups = Wakeups()

    /// Opens the checkpoint connection to the database at `path` (already in WAL mode).
    init(path: String, interval: Duration = .milliseconds(500), logger: Logger) throws {
        var configuration = Configuration()
        configuration.label = "concierge.checkpoint"
        configuration.prepareDatabase { db in
            // The checkpoint makes the database file durable before the log is reused.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        queue = try DatabaseQueue(path: path, configuration: configuration)
        self.interval = interval
        self.logger = logger
    }

    /// A write committed: checkpoint soon.
    func commitFinished() { wakeups.signal() }

    /// Checkpoints after commits until the store closes (a graceful shutdown lets a running
    /// checkpoint finish).
    func run() async {
        for await _ in wakeups.signals.cancelOnGracefulShutdown() {
            let started = ContinuousClock.now
            do {
                let result = try await queue.writeWithoutTransaction { try $0.checkpoint(.passive) }
                logger.trace(
                    "checkpoint",
                    metadata: [
                        "concierge.wal.frames": "\(result.walFrameCount)",
                        "concierge.wal.checkpointed": "\(result.checkpointedFrameCount)",
                    ])
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
                // The writer's own checkpoint is running: this one is not needed.
            } catch {
                logger.error("WAL checkpoint failed", metadata: [LogKey.error: "\(error)"])
            }
            let rest = interval - (ContinuousClock.now - started)
            if rest > .zero { try? await cancelWhenGracefulShutdown { try await Task.sleep(for: rest) } }
        }
    }
}
