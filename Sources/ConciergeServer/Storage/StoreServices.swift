import Logging
import ServiceLifecycle

/// A store's long-running work (PostgreSQL's connection pool, the snapshot image builder, the WAL
/// checkpointer) as the services of one `ServiceGroup` that lives as long as the store: it starts
/// when the store opens, and ``shutdown()`` (the store's `close()`) shuts its services down
/// gracefully, the last added first, and waits for them.
///
/// The group is the store's own rather than the server's: tests, tools and admin commands open a
/// store without a server, and the store's work must run there too.
final class StoreServices: Sendable {
    private let group: ServiceGroup
    private let running: Task<Void, Never>

    init(_ services: [any Service], logger: Logger) {
        let group = ServiceGroup(
            configuration: .init(services: services.map { .init(service: $0) }, logger: logger))
        self.group = group
        running = Task {
            do { try await group.run() } catch {
                logger.error("a storage service failed", metadata: [LogKey.error: "\(error)"])
            }
        }
    }

    /// Starts another service beside the others (one that needs what the first ones made ready).
    func add(_ service: any Service) async {
        await group.addServiceUnlessShutdown(service)
    }

    /// Shuts the services down gracefully, the last added first, and waits until they have ended.
    func shutdown() async {
        await group.triggerGracefulShutdown()
        await running.value
    }
}

/// A coalescing wake-up for a service that works after commits: any number of ``signal()``s before
/// the service looks again count as one.
struct Wakeups: Sendable {
    let signals: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (signals, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    func signal() { continuation.yield() }
}
