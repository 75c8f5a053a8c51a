import AsyncHTTPClient
import ConciergeClient
import ConciergeCore
import ConciergeServer
import ConciergeTestSupport
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// The real server on a free loopback port, over a data folder of its own.
final class TestServer: @unchecked Sendable {
    let folder: URL
    let parts: ServerParts
    let port: Int
    let task: Task<Void, any Error>
    let group: ServiceGroup
    var configuration: ServerConfiguration

    var url: URL { URL(string: "http://127.0.0.1:\(port)/")! }
    var store: any ServerStore { parts.store }

    /// Starts a server on `engine`; for PostgreSQL on a fresh database, or on `databaseURL` (a
    /// second instance on the same database).
    static func start(
        engine: Engine = .sqlite, databaseURL: String? = nil, folder: URL? = nil,
        configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        let folder =
            folder
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("concierge-test-\(UUID().uuidString)")
        var configuration = ServerConfiguration()
        configuration.dataFolder = folder
        configuration.port = 0
        if engine == .postgres {
            if let databaseURL {
                configuration.databaseURL = databaseURL
            } else {
                configuration.databaseURL = try await TestPostgres.freshDatabase()
            }
            configuration.databaseConnections = 8
            configuration.livePollMilliseconds = 200
        }
        configure(&configuration)
        var logger = Logger(label: "test-server")
        logger.logLevel = .warning
        let parts = try await makeServerParts(configuration: configuration, logger: logger)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = buildApplication(configuration: configuration, parts: parts, logger: logger) { port in
            continuation.yield(port)
        }
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw SyncError(.unavailable, "the server did not start") }
        return TestServer(
            folder: folder, parts: parts, port: port, task: task, group: group, configuration: configuration)
    }

    init(
        folder: URL, parts: ServerParts, port: Int, task: Task<Void, any Error>, group: ServiceGroup,
        configuration: ServerConfiguration
    ) {
        self.folder = folder
        self.parts = parts
        self.port = port
        self.task = task
        self.group = group
        self.configuration = configuration
    }

    /// Brings every change-log follower up to the log's head now (their services do it on their
    /// interval): compaction never passes a follower.
    func catchUpFollowers() async throws {
        for follower in parts.followers {
            while try await store.follow(follower.name, limit: 500, { try await follower.handle($0) }) == 500 {}
        }
    }

    /// Shuts the server down gracefully and waits for it.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
        await parts.store.close()
    }

    /// The demo cast: provider acme; customers anna and carl; agent ben (no skills: he sees
    /// unrouted cases); technicians tom and tina; supervisor sue.
    func seed() async throws {
        try await store.createProvider(id: "acme", name: "ACME Telecom")
        for (id, role) in [
            ("anna", "customer"), ("carl", "customer"), ("ben", "agent"), ("tom", "technician"), ("tina", "technician"),
            ("sue", "supervisor"),
        ] {
            try await store.createPrincipal(
                Principal(id: PrincipalID(id), provider: "acme", role: Role(role), displayName: id.capitalized))
        }
    }

    /// A client engine for `principal`, enrolled over HTTP with a fresh code.
    func device(_ principal: PrincipalID) async throws -> TestDevice {
        let code = try await store.issueEnrolmentCode(for: principal)
        let session = try await HTTPSyncTransport.enrol(server: url, code: code, deviceName: "test")
        return TestDevice(session: session)
    }
}

/// One enrolled device: its replica (in memory) and its sync engine over HTTP.
struct TestDevice: Sendable {
    let transport: HTTPSyncTransport
    let replica: Replica<InMemoryReplicaStore>
    let engine: SyncEngine<InMemoryReplicaStore>

    init(session: Session) {
        transport = HTTPSyncTransport(session: session)
        replica = Replica(store: InMemoryReplicaStore(replica: session.replica, author: session.author))
        engine = SyncEngine(replica: replica, transport: transport, sleep: { _ in })
    }

    var principal: PrincipalID { transport.currentSession.principal }

    @discardableResult
    func sync() async throws -> SyncReport { try await engine.sync() }

    @discardableResult
    func edit(_ body: (inout Editor) throws -> Void) throws -> ChangeSet? { try replica.edit(body) }

    /// Every record the replica holds, as canonical JSON, sorted by key.
    func canonicalState() throws -> [String] {
        try ReplicaStoreContract.canonicalState(replica.store)
    }
}
