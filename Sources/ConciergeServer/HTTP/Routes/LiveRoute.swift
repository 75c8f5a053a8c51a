import ConciergeCore
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging

/// `GET /v1/live`: the WebSocket that tells a replica its scope moved. Authenticated once, before
/// the upgrade (a refused token gets its 401 as an HTTP answer); while it is open, the device is
/// checked again every ``recheckInterval`` and when its token expires: a revoked device or an
/// expired token gets `{"type":"closed","code":...}` and the socket closes (the client reconnects
/// with a fresh token, or stops).
struct LiveRoute {
    let store: any ServerStore
    let live: LiveHub
    let authenticator: Authenticator
    let recheckInterval: Duration

    var collection: RouteCollection<ConciergeRequestContext> {
        let routes = RouteCollection(context: ConciergeRequestContext.self)
        routes.ws("live") { _, _ in
            .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            let caller = try context.requestContext.requireCaller()
            let expiresAt = context.requestContext.tokenExpiresAt
            let (id, notices) = live.subscribe(caller.principal)
            defer { live.unsubscribe(id) }
            try await outbound.write(.text(CanonicalJSON.string(["type": "hello", "epoch": .string(store.epoch)])))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await seq in notices {
                        try await outbound.write(
                            .text(CanonicalJSON.string(["type": "changed", "seq": .int(Int64(seq))])))
                    }
                }
                group.addTask {
                    let code = try await watch(caller, expiresAt: expiresAt)
                    try await outbound.write(.text(CanonicalJSON.string(["type": "closed", "code": .string(code)])))
                    try await outbound.close(.policyViolation, reason: code)
                }
                // The client sends nothing that matters; reading keeps pings and the close handshake going.
                for try await _ in inbound {}
                group.cancelAll()
            }
        }
        return routes
    }

    /// Waits until the caller may no longer listen. - Returns: why (`deviceRevoked`, `tokenExpired`).
    func watch(_ caller: Caller, expiresAt: Int64?) async throws -> String {
        while true {
            let now = Date().timeIntervalSince1970
            var pause = recheckInterval
            if let expiresAt {
                let left = Double(expiresAt) - now
                if left <= 0 { return "tokenExpired" }
                pause = min(pause, .milliseconds(Int64(left * 1000) + 1))
            }
            try await Task.sleep(for: pause)
            // A failed check (the database away for a moment) keeps the socket: the next one decides.
            if (try? await authenticator.isActive(caller)) == false { return SyncError.Code.deviceRevoked.rawValue }
        }
    }
}
