import ConciergeCore
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import ServiceLifecycle

/// The server's parts, made once at start.
public struct ServerParts: Sendable {
    public let store: any ServerStore
    public let tokens: TokenService
    public let metrics: ServerMetrics
    public let live: LiveHub
    /// Services the engine needs running beside the HTTP server (live fan-out across instances).
    public let services: [any Service]
    /// Effects that follow the change log after each commit (the audit trail), each run by a
    /// ``FollowerService``.
    public var followers: [any ChangeLogFollower] = []
}

/// Opens the data folder (creating it, the database and the signing key on first start).
public func makeServerParts(configuration: ServerConfiguration, logger: Logger) async throws -> ServerParts {
    try FileManager.default.createDirectory(
        at: configuration.dataFolder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    // An existing folder too: the database and the signing key are nobody else's business.
    try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: configuration.dataFolder.path)
    let metrics = ServerMetrics()
    let live = LiveHub(metrics: metrics)
    guard let url = configuration.databaseURL else {
        let store = try SQLiteServerStore(
            path: configuration.databasePath, recordCache: configuration.recordCache,
            snapshotImages: configuration.snapshotImages, logger: logger)
        store.observeSnapshotImages { metrics.recordSnapshotImagesLag($0) }
        let tokens = try await TokenService.load(
            folder: configuration.dataFolder, lifetime: configuration.accessTokenSeconds)
        return ServerParts(
            store: store, tokens: tokens, metrics: metrics, live: live, services: [],
            followers: followers(configuration, store: store))
    }
    let store = try await PostgresServerStore.connect(
        url: url, maxConnections: configuration.databaseConnections, recordCache: configuration.recordCache,
        snapshotImages: configuration.snapshotImages, logger: logger)
    store.observeSnapshotImages { metrics.recordSnapshotImagesLag($0) }
    // Every instance signs and verifies with the one key kept in the database.
    let key = try await store.signingKey(orMake: TokenService.makeKey)
    let tokens = try await TokenService(pem: key.pem, keyID: key.kid, lifetime: configuration.accessTokenSeconds)
    let fanOut = LiveFanOut(
        store: store, live: live, pollInterval: .milliseconds(configuration.livePollMilliseconds), logger: logger)
    return ServerParts(
        store: store, tokens: tokens, metrics: metrics, live: live, services: [fanOut],
        followers: followers(configuration, store: store))
}

/// The change-log followers: the queue of replies on the customer's channel, and the audit trail
/// when the configuration asks for it.
func followers(_ configuration: ServerConfiguration, store: any ServerStore) -> [any ChangeLogFollower] {
    [OutboundQueue(store: store)] + (configuration.auditLogPath.map { [AuditTrail(path: $0)] } ?? [])
}

/// The router of the HTTP API, WebSocket route included (`schema/openapi.yaml` describes it).
public func buildRouter(
    configuration: ServerConfiguration, parts: ServerParts, logger: Logger = Logger(label: "concierge-server")
) -> Router<ConciergeRequestContext> {
    let router = Router(context: ConciergeRequestContext.self)
    router.middlewares.add(APIMiddleware(metrics: parts.metrics))
    router.addRoutes(OperationsRoutes(metrics: parts.metrics).collection)
    // Without an access token: a device's first tokens and their rotation.
    router.group("v1").addRoutes(EnrolmentRoutes(store: parts.store, tokens: parts.tokens).collection)
    // Channel integrations: an API key instead of a device's access token.
    router.group("v1/integrations").add(middleware: IntegrationKeyMiddleware(store: parts.store)).addRoutes(
        IntegrationRoutes(store: parts.store, live: parts.live, metrics: parts.metrics).collection)
    // Everything else under /v1 has a caller, put in the context by the middleware.
    let authenticator = Authenticator(store: parts.store, tokens: parts.tokens, logger: logger)
    let authenticated = router.group("v1").add(middleware: CallerMiddleware(authenticator: authenticator))
    authenticated.addRoutes(
        SyncRoutes(store: parts.store, configuration: configuration, metrics: parts.metrics, live: parts.live)
            .collection)
    authenticated.addRoutes(DeviceRoutes(store: parts.store).collection)
    authenticated.addRoutes(ContactPointRoutes(store: parts.store).collection)
    authenticated.addRoutes(
        LiveRoute(
            store: parts.store, live: parts.live, authenticator: authenticator,
            recheckInterval: .milliseconds(configuration.liveRecheckMilliseconds)
        ).collection)
    return router
}

/// The composition root: the HTTP application over the given parts.
/// - Parameter onServerRunning: called with the bound port once the server listens.
public func buildApplication(
    configuration: ServerConfiguration, parts: ServerParts, logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let router = buildRouter(configuration: configuration, parts: parts, logger: logger)
    let compaction = CompactionService(
        store: parts.store, intervalSeconds: configuration.compactIntervalSeconds,
        retentionMillis: configuration.retentionMillis, logger: logger)
    return Application(
        router: router,
        server: .http1WebSocketUpgrade(
            webSocketRouter: router, idleTimeout: .seconds(Int64(configuration.idleTimeoutSeconds))),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "concierge"),
        services: [compaction] + parts.services
            + parts.followers.map { follower in
                FollowerService(
                    store: parts.store, follower: follower,
                    interval: .milliseconds(configuration.followIntervalMilliseconds), logger: logger)
            },
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger)
}
