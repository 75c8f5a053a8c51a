import ConciergeCore
import Hummingbird
import Logging

/// `POST /v1/enrol` (a one-time code for a device's first tokens) and `POST /v1/token` (a refresh
/// token rotated for new ones): the two routes a device reaches without an access token.
struct EnrolmentRoutes {
    let store: any ServerStore
    let tokens: TokenService

    var collection: RouteCollection<ConciergeRequestContext> {
        let routes = RouteCollection(context: ConciergeRequestContext.self)
        routes.post("enrol") { request, context in try await enrol(request, logger: context.logger) }
        routes.post("token") { request, context in try await refresh(request, logger: context.logger) }
        return routes
    }

    func enrol(_ request: Request, logger: Logger) async throws -> Response {
        let body = try await JSONBody.read(request, limit: 4096)
        guard let code = body["code"]?.stringValue else {
            throw APIError(.malformedRequest, "send {\"code\": \"...\"}")
        }
        let enrolment: Enrolment
        do {
            enrolment = try await store.enrol(code: code, deviceName: body["deviceName"]?.stringValue ?? "device")
        } catch let error as SyncError {
            // Never the code itself.
            logger.info("enrolment refused", metadata: [LogKey.code: "\(error.code)"])
            throw error
        }
        logger.info(
            "device enrolled",
            metadata: [LogKey.principal: "\(enrolment.principal.id)", LogKey.device: "\(enrolment.replica)"])
        return try await session(enrolment.principal, replica: enrolment.replica, refreshToken: enrolment.refreshToken)
    }

    func refresh(_ request: Request, logger: Logger) async throws -> Response {
        let body = try await JSONBody.read(request, limit: 4096)
        guard let token = body["refreshToken"]?.stringValue else {
            throw APIError(.malformedRequest, "send {\"refreshToken\": \"...\"}")
        }
        let rotated: (refreshToken: String, replica: ReplicaID, principal: Principal)
        do {
            rotated = try await store.rotateRefreshToken(token)
        } catch let error as SyncError where error.code == .deviceRevoked {
            // Reuse of a rotated token: a stolen copy, the device is revoked (the replica id is the
            // token's public part; the token is never logged).
            let replica = (try? StoreSupport.replica(ofRefreshToken: token)).map { "\($0)" } ?? "-"
            logger.info(
                "refresh refused: device revoked",
                metadata: [LogKey.device: "\(replica)", LogKey.code: "\(error.code)"])
            throw error
        }
        return try await session(rotated.principal, replica: rotated.replica, refreshToken: rotated.refreshToken)
    }

    func session(_ principal: Principal, replica: ReplicaID, refreshToken: String) async throws -> Response {
        JSONBody.response([
            "replica": .string(replica.description),
            "refreshToken": .string(refreshToken),
            "accessToken": .string(try await tokens.accessToken(for: principal, device: replica)),
            "principal": [
                "id": .string(principal.id.rawValue), "provider": .string(principal.provider.rawValue),
                "role": .string(principal.role.rawValue), "displayName": .string(principal.displayName),
            ],
            "epoch": .string(store.epoch),
        ])
    }
}
