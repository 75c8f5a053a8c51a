import Foundation
import GRDB
import Logging
import Synchronization

/// Copies the write-ahead log back into the database file on a connection of its own, so that the
/// one writer does not: SQLite's automatic checkpoint runs inside the commit that crosses its
/// threshold, and under a stream of pushes it took about a sixth of the writer's time.
///
/// After a commit the store calls ``commitFinished()``; at most one passive checkpoint runs at a
/// time, at most once per `interval`, and commits in between are taken by the next one. A passive
/// checkpoint never blocks the writer or a reader. The writer keeps SQLite's own checkpoint at a
/// higher threshold (``writerThreshold`` pages): with this one keeping up, that one finds little
/// left to copy, and it is what lets SQLite start the log file over from its beginning.
final class WALCheckpointer: Sendable {
    /// The writer's automatic checkpoint threshold, in pages (SQLite's default is 1,000).
    static let writerThreshold = 20_000

    private let queue: DatabaseQueue
    private let interval: Duration
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var running = false
        var pending = false
        var closed = false
        var finished: [CheckedContinuation<Void, Never>] = []
    }

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
    func commitFinished() {
        let start = state.withLock { state -> Bool in
            guard !state.closed else { return false }
            if state.running {
                state.pending = true
                return false
            }
            state.running = true
            return true
        }
        if start { Task.detached { await self.run() } }
    }

    /// Waits for a running checkpoint and starts no more.
    func close() async {
        await withCheckedContinuation { continuation in
            let wait = state.withLock { state -> Bool in
                state.closed = true
                guard state.running else { return false }
                state.finished.append(continuation)
                return true
            }
            if !wait { continuation.resume() }
        }
    }

    private func run() async {
        while true {
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
            let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>]? in
                if state.pending && !state.closed {
                    state.pending = false
                    return nil
                }
                state.running = false
                defer { state.finished = [] }
                return state.finished
            }
            if let waiting {
                for continuation in waiting { continuation.resume() }
                return
            }
            let rest = interval - (ContinuousClock.now - started)
            if rest > .zero { try? await Task.sleep(for: rest) }
        }
    }
}
