import ConciergeCore
import Foundation
import Logging
import ServiceLifecycle

/// An effect outside the database that follows the change log after each commit: deliveries to
/// integrations, webhooks, a search index, an audit trail. Each follower keeps its own position in
/// the log (in `server_meta`, under `follower:<name>`), so it resumes after a restart where it
/// stopped, and compaction keeps every change set it has not handled yet.
///
/// Delivery is **at least once**: a follower handles a batch, then its position moves past it; a
/// crash in between hands it the batch again. Make ``handle(_:)`` idempotent (say, keyed by
/// ``LoggedChangeSet/seq``).
public protocol ChangeLogFollower: Sendable {
    /// A stable name: where its position is kept.
    var name: String { get }
    /// Handles change sets in log order. Throwing leaves the position where it was: the batch comes
    /// again.
    func handle(_ sets: [LoggedChangeSet]) async throws
}

/// A change set as the log holds it, with its position.
public struct LoggedChangeSet: Sendable, Hashable {
    public var seq: UInt64
    public var changeSet: ChangeSet

    public init(seq: UInt64, changeSet: ChangeSet) {
        self.seq = seq
        self.changeSet = changeSet
    }
}

/// Runs one follower beside the server: a batch whenever the log has moved past its position,
/// checked every `interval`; a failing batch is tried again with a growing pause (up to 30 s).
public struct FollowerService: Service {
    public static let batchSize = 500

    let store: any ServerStore
    let follower: any ChangeLogFollower
    let interval: Duration
    let logger: Logger

    public init(store: any ServerStore, follower: any ChangeLogFollower, interval: Duration, logger: Logger) {
        self.store = store
        self.follower = follower
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        var failures = 0
        // Cancelled too: stop (see CompactionService).
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var pause = interval
            do {
                let handled = try await store.follow(follower.name, limit: Self.batchSize) { sets in
                    try await follower.handle(sets)
                }
                failures = 0
                // A full batch: more may be waiting, go on at once.
                if handled == Self.batchSize { continue }
            } catch {
                failures += 1
                pause = min(interval * (1 << min(failures, 6)), .seconds(30))
                logger.error(
                    "a change-log follower failed; its batch comes again",
                    metadata: ["concierge.follower": "\(follower.name)", LogKey.error: "\(error)"])
            }
            let wait = pause
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
        }
    }
}

extension StoreSupport {
    /// The `server_meta` key of a follower's position.
    static func followerKey(_ name: String) -> String { "follower:\(name)" }
}
