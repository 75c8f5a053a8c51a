import Hummingbird
import HummingbirdWebSocket

/// The context of every request the server routes: Hummingbird's, able to upgrade to a WebSocket,
/// and carrying the caller once a route's middleware authenticated it. The live route
/// authenticates once, before the upgrade, and its WebSocket handler reads the caller from here
/// (the handler gets the context the route saw).
public struct ConciergeRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    /// The authenticated caller (``CallerMiddleware``); `nil` on routes without it.
    public var caller: Caller?

    public init(source: Source) {
        coreContext = .init(source: source)
        webSocket = .init()
    }
}

/// Authenticates the request's bearer token and puts the caller in the context; a request
/// without a valid token of an active device gets its error response and goes no further.
struct CallerMiddleware: RouterMiddleware {
    let authenticate: @Sendable (Request) async throws -> Caller

    func handle(
        _ request: Request, context: ConciergeRequestContext,
        next: (Request, ConciergeRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        context.caller = try await authenticate(request)
        return try await next(request, context)
    }
}
