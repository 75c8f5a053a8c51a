import ConciergeCore
import Hummingbird
import Logging

/// `GET /v1/devices` and `DELETE /v1/devices/{replica}`: a principal's own devices (behind
/// ``CallerMiddleware``).
struct DeviceRoutes {
    let store: any ServerStore

    var collection: RouteCollection<ConciergeRequestContext> {
        let routes = RouteCollection(context: ConciergeRequestContext.self)
        routes.get("devices") { _, context in try await devices(context.requireCaller()) }
        routes.delete("devices/:replica") { _, context in
            try await revoke(
                context.requireCaller(), replica: context.parameters.get("replica"), logger: context.logger)
        }
        return routes
    }

    func devices(_ caller: Caller) async throws -> Response {
        let devices = try await store.devices(of: caller.principal.id)
        return JSONBody.response([
            "devices": .array(
                devices.map { device in
                    [
                        "replica": .string(device.replica.description), "name": .string(device.name),
                        "createdAt": .int(device.createdAt), "lastSeenAt": device.lastSeenAt.map(Value.int) ?? .null,
                        "revoked": .bool(device.revoked), "current": .bool(device.replica == caller.replica),
                    ]
                })
        ])
    }

    func revoke(_ caller: Caller, replica: String?, logger: Logger) async throws -> Response {
        guard let replica = replica.flatMap(ReplicaID.init) else { throw APIError(.notFound, "no such device") }
        do {
            try await store.revokeDevice(replica, owner: caller.principal.id)
        } catch let error as StoreError where error.code == .notFound {
            throw APIError(.notFound, "no such device")
        }
        logger.info(
            "device revoked", metadata: [LogKey.principal: "\(caller.principal.id)", LogKey.device: "\(replica)"])
        return JSONBody.response(["revoked": .string(replica.description)])
    }
}
