import ConciergeCore
import Foundation
import Hummingbird
import Logging

/// Who sends a request: a valid access token of an active device. The `/v1` routes that need a
/// caller sit behind ``CallerMiddleware``, which runs this once per request (once per connection
/// for the live route); no handler authenticates by hand.
struct Authenticator: Sendable {
    let store: any ServerStore
    let tokens: TokenService
    let logger: Logger

    /// The caller behind the request's bearer token, and when the token expires (seconds since 1970).
    func authenticate(_ request: Request) async throws -> (caller: Caller, expiresAt: Int64) {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw APIError(.unauthorized, "send an access token: Authorization: Bearer <token>")
        }
        let claims = try await tokens.verify(String(header.dropFirst(7)))
        guard let principal = try await store.activePrincipal(claims.principal, device: claims.device) else {
            throw APIError(.deviceRevoked, "this device was revoked")
        }
        logger.debug(
            "authenticated",
            metadata: [
                LogKey.principal: "\(principal.id)", LogKey.path: "\(request.uri.path)",
                LogKey.device: "\(claims.device)",
            ])
        return (Caller(principal: principal, replica: claims.device), claims.expiresAt)
    }

    /// Whether the caller's device is still active (not revoked, the principal still there).
    func isActive(_ caller: Caller) async throws -> Bool {
        try await store.activePrincipal(caller.principal.id, device: caller.replica) != nil
    }
}

/// Authenticates the request's bearer token and puts the caller in the context; a request
/// without a valid token of an active device gets its error response and goes no further.
struct CallerMiddleware: RouterMiddleware {
    let authenticator: Authenticator

    func handle(
        _ request: Request, context: ConciergeRequestContext,
        next: (Request, ConciergeRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        let (caller, expiresAt) = try await authenticator.authenticate(request)
        context.caller = caller
        context.tokenExpiresAt = expiresAt
        return try await next(request, context)
    }
}

extension ConciergeRequestContext {
    /// The authenticated caller; only routes behind ``CallerMiddleware`` have one.
    func requireCaller() throws -> Caller {
        guard let caller else {
            // A route registered outside the authenticated group: a programming error, refused safely.
            throw APIError(.unauthorized, "send an access token: Authorization: Bearer <token>")
        }
        return caller
    }
}
