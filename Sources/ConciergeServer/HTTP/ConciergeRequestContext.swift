import ConciergeCore
import Hummingbird
import HummingbirdWebSocket

/// The context of every request the server routes: Hummingbird's, able to upgrade to a WebSocket,
/// and carrying the caller once ``CallerMiddleware`` authenticated it (every `/v1` route but
/// enrolment and token refresh). The live route's WebSocket handler reads the caller from here too
/// (it gets the context the route saw, authenticated once before the upgrade).
public struct ConciergeRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    /// The authenticated caller (``CallerMiddleware``); `nil` on routes without it.
    public var caller: Caller?
    /// When the caller's access token expires, in seconds since 1970 (``CallerMiddleware``).
    public var tokenExpiresAt: Int64?
    /// The channel integration and the API key it sent (``IntegrationKeyMiddleware``), on the
    /// `/v1/integrations` routes.
    public var integration: (principal: Principal, key: StoredIntegrationKey)?

    public init(source: Source) {
        coreContext = .init(source: source)
        webSocket = .init()
    }
}
