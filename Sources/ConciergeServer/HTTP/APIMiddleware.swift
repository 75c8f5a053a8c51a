import ConciergeCore
import Foundation
import Hummingbird
import Logging

/// Logs every request (method, path, status, duration, request id; never a body or a token),
/// counts it, and turns every error into the JSON error body: Hummingbird's own errors (a body
/// over the limit, an unknown route) and, as `internalError`, anything unexpected, whose detail
/// goes to the log only.
struct APIMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics
    /// A request that takes longer is logged at info.
    static var slow: Duration { .seconds(1) }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let start = ContinuousClock.now
        let requestID = context.id
        metrics.requests.increment()
        let response: Response
        do {
            response = try await next(request, context)
        } catch let error as APIError {
            response = try error.response(from: request, context: context)
        } catch let error as SyncError {
            response = try APIError(error).response(from: request, context: context)
        } catch let error as HTTPError {
            let code: SyncError.Code =
                switch error.status {
                case .notFound: .notFound
                case .contentTooLarge: .payloadTooLarge
                case .unauthorized: .unauthorized
                default: .malformedRequest
                }
            response = try APIError(code, error.body ?? error.status.reasonPhrase).response(
                from: request, context: context)
        } catch {
            context.logger.error(
                "request failed",
                metadata: [LogKey.requestID: "\(requestID)", LogKey.error: "\(String(reflecting: error))"])
            response = try APIError(.internalError, "the server failed; try again").response(
                from: request, context: context)
        }
        let elapsed = ContinuousClock.now - start
        // A slow request is news at the default level; every request is, when debugging.
        context.logger.log(
            level: elapsed > Self.slow ? .info : .debug, elapsed > Self.slow ? "slow request" : "request",
            metadata: [
                LogKey.requestID: "\(requestID)", LogKey.method: "\(request.method)",
                LogKey.path: "\(request.uri.path)",
                LogKey.status: "\(response.status.code)",
                LogKey.duration:
                    "\(elapsed.components.attoseconds / 1_000_000_000_000_000 + elapsed.components.seconds * 1000)",
            ])
        return response
    }
}
