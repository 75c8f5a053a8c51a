import ConciergeCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Keeps an image of every record (the whole record in the binary form, `record_image`) ready for
/// snapshot pages, so that a page reads one row per record and copies it into the answer instead of
/// reading a dozen rows per record, decoding them and encoding the record again.
///
/// The push does not build images: it writes only the rows a change touches. This builder follows
/// it in the background, in log order: each batch reads the records changed since the builder's
/// position (beside the push writer) and writes their images in a short transaction of its own
/// (the engine's part: ``Batch``). An image carries the record's `last_seq` when it was read; a
/// snapshot page uses an image only while that is still the record's `last_seq`, and reads the
/// record's rows otherwise. A stale or missing image costs speed, never correctness.
///
/// While pushes keep arriving it builds one batch per ``busyInterval``, so that it takes little
/// of the writer; once they stop, it catches up batch after batch. It runs as a service of the
/// store (``StoreServices``): its first pass starts with the store (images may be missing or stale
/// since the last start), and a graceful shutdown lets a running batch finish.
final class SnapshotImages: Service, Sendable {
    /// Records per batch: one read, one write transaction.
    static let batchSize = 500
    /// How long after a commit a pass starts (commits in between join it).
    static let delay: Duration = .milliseconds(200)
    /// The pace while writes keep arriving: one batch per interval.
    static let busyInterval: Duration = .seconds(1)

    /// What one batch did: where the builder stands now, whether more may be left, and how many
    /// log positions it is behind the head.
    struct Batch: Sendable {
        var next: Position
        var more: Bool
        var lag: Int
    }

    /// Builds the images of the next records after a position (`nil`: where the last run's last
    /// write left off), one engine's way. `waits`: wait for another builder (another instance)
    /// rather than leave the batch to it.
    typealias Build = @Sendable (_ position: Position?, _ waits: Bool) async throws -> Batch

    private let build: Build
    private let logger: Logger
    /// Whether the builder runs by itself (otherwise only ``catchUp()`` builds, and the store does
    /// not run it as a service).
    let background: Bool
    private let wakeups = Wakeups()
    private let state: Mutex<State>

    private struct State {
        /// Whether a pass is due or under way (from the first commit it has not yet seen).
        var busy: Bool
        /// Commits since the builder last looked.
        var commits = 0
        var stopped = false
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

    init(background: Bool = true, logger: Logger, build: @escaping Build) {
        self.build = build
        self.background = background
        self.logger = logger
        // The first pass is due from the start.
        state = Mutex(State(busy: background))
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

    /// A write committed: build its records' images soon.
    func commitFinished() {
        guard background else { return }
        let signal = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.commits += 1
            state.busy = true
            return true
        }
        if signal { wakeups.signal() }
    }

    /// Waits until the builder has nothing left to do (it has caught up, and no commit waits for
    /// it), or has stopped.
    func idle() async {
        await withCheckedContinuation { continuation in
            let wait = state.withLock { state -> Bool in
                guard state.busy, !state.stopped else { return false }
                state.finished.append(continuation)
                return true
            }
            if !wait { continuation.resume() }
        }
    }

    /// Builds batches until every record has a current image (for tests and tools: the builder
    /// does it by itself, paced).
    func catchUp() async throws {
        while try await buildBatch(waits: true) {}
    }

    /// Builds after commits until the store closes.
    func run() async {
        await pass(waitFirst: false)
        for await _ in wakeups.signals.cancelOnGracefulShutdown() {
            await pass(waitFirst: true)
        }
        let waiting = state.withLock { state in
            state.stopped = true
            state.busy = false
            defer { state.finished = [] }
            return state.finished
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Builds batches until the builder has caught up and no commit came meanwhile.
    private func pass(waitFirst: Bool) async {
        var pause: Duration? = waitFirst ? Self.delay : nil
        while true {
            if let pause { try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) } }
            // Closing: stop without another batch.
            if Task.isShuttingDownGracefully { return }
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
                if !more && state.commits == 0 {
                    state.busy = false
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
    private func buildBatch(waits: Bool = false) async throws -> Bool {
        let batch = try await build(state.withLock { $0.position }, waits)
        let observer = state.withLock { state -> (@Sendable (Int) -> Void)? in
            state.position = batch.next
            state.pending = batch.lag
            return state.observer
        }
        observer?(batch.lag)
        return batch.more
    }

    /// A record's image, made from the record as stored, and the record's `last_seq` then.
    struct Image: Sendable {
        var key: RecordKey
        var seq: Int64
        var hidesInternal: Bool
        var bytes: [UInt8]

        init(_ record: ConciergeCore.Record, seq: Int64) {
            key = record.key
            self.seq = seq
            hidesInternal = Projection.hidesInternal(record)
            bytes = record.binary
        }
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
