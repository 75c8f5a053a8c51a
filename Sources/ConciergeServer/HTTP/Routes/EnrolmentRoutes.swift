import ConciergeCore
import Hummingbird

/// `POST /v1/enrol` (a one-time code for a device's first tokens) and `POST /v1/token` (a refresh
/// token rotated for new ones): the two routes a device reaches without an access token.
struct EnrolmentRoutes {
    let store: any ServerStore
    let tokens: TokenService

    var collection: RouteCollection<ConciergeRequestContext> {
        let routes = RouteCollection(context: ConciergeRequestContext.self)
        routes.post("enrol") { request, _ in try await enrol(request) }
        routes.post("token") { request, _ in try await refresh(request) }
        return routes
    }

    func enrol(_ request: Request) async throws -> Response {
        let body = try await JSONBody.read(request, limit: 4096)
        guard let code = body["code"]?.stringValue else {
            throw APIError(.malformedRequest, "send {\"code\": \"...\"}")
        }
        let enrolment = try await store.enrol(code: code, deviceName: body["deviceName"]?.stringValue ?? "device")
        return try await session(enrolment.principal, replica: enrolment.replica, refreshToken: enrolment.refreshToken)
    }

    func refresh(_ request: Request) async throws -> Response {
        let body = try await JSONBody.read(request, limit: 4096)
        guard let token = body["refreshToken"]?.stringValue else {
            throw APIError(.malformedRequest, "send {\"refreshToken\": \"...\"}")
        }
        let rotated = try await store.rotateRefreshToken(token)
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
