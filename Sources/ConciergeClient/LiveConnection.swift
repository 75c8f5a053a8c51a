import ConciergeCore
import Foundation
import HTTPTypes
import Logging
import WSClient

/// What the server says on the live connection.
public enum LiveNotice: Hashable, Sendable {
    /// Connected; the server's epoch.
    case hello(epoch: String)
    /// The caller's scope moved up to this log position: pull.
    case changed(seq: UInt64)
}

/// The live connection (WebSocket `GET /v1/live`): notices that the caller's scope moved, so the
/// replica pulls at once instead of polling.
public enum LiveConnection {
    /// Connects and yields notices until the connection closes, fails or the stream is dropped.
    /// Refreshes the access token first when it is about to expire.
    public static func notices(_ transport: HTTPSyncTransport, logger: Logger = Logger(label: "concierge.live"))
        -> AsyncThrowingStream<LiveNotice, any Error>
    {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    if let claims = try? AccessTokenClaims(jwt: transport.currentSession.accessToken),
                        claims.expires(within: 30, of: Int64(Date().timeIntervalSince1970))
                    {
                        try await transport.refresh()
                    }
                    let session = transport.currentSession
                    var components = URLComponents(url: session.server, resolvingAgainstBaseURL: false)!
                    components.scheme = components.scheme == "https" ? "wss" : "ws"
                    components.path =
                        (components.path.hasSuffix("/") ? components.path : components.path + "/") + "v1/live"
                    var configuration = WebSocketClientConfiguration()
                    configuration.additionalHeaders = [.authorization: "Bearer \(session.accessToken)"]
                    try await WebSocketClient.connect(
                        url: components.string!, configuration: configuration, logger: logger
                    ) {
                        inbound, _, _ in
                        for try await message in inbound.messages(maxSize: 1 << 16) {
                            guard case .text(let text) = message, let value = try? CanonicalJSON.decode(text) else {
                                continue
                            }
                            switch value["type"]?.stringValue {
                            case "hello": continuation.yield(.hello(epoch: value["epoch"]?.stringValue ?? ""))
                            case "changed":
                                if let seq = value["seq"]?.intValue, seq >= 0 {
                                    continuation.yield(.changed(seq: UInt64(seq)))
                                }
                            default: continue  // kinds from newer servers
                            }
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: SyncError(.unavailable, "the live connection failed: \(error)"))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
