import Foundation
import Logging
import ServiceLifecycle

/// Compacts the change log at an interval (see ``ServerStore/compact(now:retentionMillis:)``).
struct CompactionService: Service {
    let store: any ServerStore
    let intervalSeconds: Int
    let retentionMillis: Int64
    let logger: Logger

    func run() async throws {
        // Cancelled (the server failed to start, say): stop at once. A cancelled sleep returns
        // at once, so a loop that looked only for a graceful shutdown would spin on a closed store.
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let horizon = try await store.compact(retentionMillis: retentionMillis)
                logger.debug("compacted", metadata: ["concierge.log.horizon": "\(horizon)"])
            } catch {
                logger.error("compaction failed", metadata: [LogKey.error: "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(intervalSeconds)) }
        }
    }
}
