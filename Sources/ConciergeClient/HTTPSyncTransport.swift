import AsyncHTTPClient
import ConciergeCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// The sync transport over HTTP: push and pull against a Concierge server, with the access token
/// refreshed silently (ahead of expiry, and once more when the server says it expired).
///
/// Errors come back as ``SyncError``: the server's own code and message, `unavailable`
/// (retryable) when the server cannot be reached or answers with something that is not the
/// protocol, `deviceRevoked` when the device was revoked.
public final class HTTPSyncTransport: SyncTransport, Sendable {
    let client: HTTPClient
    let session: Mutex<Session>
    /// Called with the new session whenever tokens rotate; persist it.
    let onSessionChange: @Sendable (Session) -> Void
    let timeout: TimeAmount
    /// Whether pushes go in the compact binary form; cleared when a server refuses it (415), so
    /// that an older server gets JSON.
    let binaryPush = Mutex(true)

    /// The client every transport uses unless given another: it fails a request at once when the
    /// server cannot be reached (connection refused) instead of retrying until the request's
    /// deadline, because the sync machine retries with its own backoff and says "pending".
    public static let defaultClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    public init(
        session: Session, client: HTTPClient = HTTPSyncTransport.defaultClient, timeout: TimeAmount = .seconds(30),
        onSessionChange: @escaping @Sendable (Session) -> Void = { _ in }
    ) {
        self.client = client
        self.session = Mutex(session)
        self.onSessionChange = onSessionChange
        self.timeout = timeout
    }

    /// The session as it stands (tokens included).
    public var currentSession: Session { session.withLock { $0 } }

    /// Sends the next requests to another instance of the same service (same database, same
    /// signing key): the session and the replica's cursor stay valid there.
    public func switchServer(to server: URL) {
        let changed = session.withLock { session -> Session in
            session.server = server
            return session
        }
        onSessionChange(changed)
    }

    /// Enrols this device with a one-time code.
    public static func enrol(
        server: URL, code: String, deviceName: String, client: HTTPClient = HTTPSyncTransport.defaultClient
    ) async throws
        -> Session
    {
        let answer = try await send(
            client: client, method: .POST, url: server.appendingPathComponent("v1/enrol"),
            body: ["code": .string(code), "deviceName": .string(deviceName)], token: nil, timeout: .seconds(30))
        do { return try Session(server: server, answer: answer) } catch { throw SyncError(.malformed, error.message) }
    }

    public func push(_ request: PushRequest) async throws -> PushResponse {
        var answer: Value
        if binaryPush.withLock({ $0 }) {
            do {
                answer = try Self.json(
                    try await authorizedBytes(
                        .POST, "v1/push", body: .binary(CompactBinary.encode(request.changeSets)),
                        accept: "application/json"))
            } catch let error as SyncError where error.code == .unsupportedMediaType {
                binaryPush.withLock { $0 = false }
                answer = try await authorized(.POST, "v1/push", body: request.value)
            }
        } else {
            answer = try await authorized(.POST, "v1/push", body: request.value)
        }
        do { return try PushResponse(value: answer) } catch {
            throw SyncError(.unavailable, "the server's push answer does not decode: \(error.message)")
        }
    }

    public func pull(_ request: PullRequest) async throws -> PullResponse {
        var components = URLComponents()
        components.queryItems = [URLQueryItem(name: "limit", value: String(request.limit))]
        if let cursor = request.cursor {
            components.queryItems!.append(URLQueryItem(name: "cursor", value: cursor.description))
        }
        if let snapshot = request.snapshot {
            components.queryItems!.append(URLQueryItem(name: "snapshot", value: snapshot))
        }
        // The binary form when the server speaks it (about a sixth of the bytes, no JSON tree to build),
        // with snapshot records as the images the server keeps ready; JSON from a server that does not.
        let answer = try await authorizedBytes(
            .GET, "v1/pull?\(components.percentEncodedQuery ?? "")", body: nil,
            accept: "\(Self.binaryType); images=1, application/json;q=0.5")
        do {
            if answer.isBinary { return try PullResponse(binary: Array(answer.bytes.readableBytesView)) }
            return try PullResponse(value: CanonicalJSON.decode(answer.bytes.readableBytesView))
        } catch {
            throw SyncError(.unavailable, "the server's pull answer does not decode: \(error.message)")
        }
    }

    static let binaryType = BinaryForm.mediaType

    /// The server's digest of this principal's projection, and the log position it was taken at.
    public func integrity() async throws -> (digest: IntegrityDigest, cursor: Cursor?) {
        let answer = try await authorized(.GET, "v1/integrity", body: nil)
        do {
            return (
                try IntegrityDigest(value: answer),
                try answer["cursor"].map { (value) throws(CodecError) in try Cursor(value: value) }
            )
        } catch { throw SyncError(.unavailable, "the integrity answer does not decode: \(error.message)") }
    }

    /// The devices of this principal, as the server lists them.
    public func devices() async throws -> Value {
        try await authorized(.GET, "v1/devices", body: nil)
    }

    /// Revokes one of this principal's devices.
    public func revokeDevice(_ replica: ReplicaID) async throws {
        _ = try await authorized(.DELETE, "v1/devices/\(replica)", body: nil)
    }

    /// A customer's contact points (`customer`: staff name one; a customer reads their own).
    public func contactPoints(customer: PrincipalID?) async throws -> Value {
        var path = "v1/contact-points"
        if let customer, let encoded = customer.rawValue.addingPercentEncoding(withAllowedCharacters: .alphanumerics) {
            path += "?customer=\(encoded)"
        }
        return try await authorized(.GET, path, body: nil)
    }

    /// Adds (or with `remove`, removes) a contact point of `kind` (`phone`, `email`, `social` as
    /// `network:handle`) as written; answers the customer's points afterwards.
    public func changeContactPoint(kind: String, value: String, customer: PrincipalID?, remove: Bool) async throws
        -> Value
    {
        var body: [String: Value] = ["kind": .string(kind), "value": .string(value)]
        if let customer { body["customer"] = .string(customer.rawValue) }
        return try await authorized(
            .POST, remove ? "v1/contact-points/remove" : "v1/contact-points", body: .object(body))
    }

    /// Rotates the refresh token and takes a new access token.
    public func refresh() async throws {
        let current = currentSession
        let answer = try await Self.send(
            client: client, method: .POST, url: current.server.appendingPathComponent("v1/token"),
            body: ["refreshToken": .string(current.refreshToken)], token: nil, timeout: timeout)
        let next: Session
        do { next = try Session(server: current.server, answer: answer) } catch {
            throw SyncError(.malformed, error.message)
        }
        session.withLock { $0 = next }
        onSessionChange(next)
    }

    func authorized(_ method: HTTPMethod, _ path: String, body: Value?) async throws -> Value {
        try Self.json(try await authorizedBytes(method, path, body: body.map(Body.json), accept: "application/json"))
    }

    func authorizedBytes(_ method: HTTPMethod, _ path: String, body: Body?, accept: String) async throws -> Answer {
        let current = currentSession
        if let claims = try? AccessTokenClaims(jwt: current.accessToken),
            claims.expires(within: 30, of: Int64(Date().timeIntervalSince1970))
        {
            try await refresh()
        }
        let url = URL(string: path, relativeTo: currentSession.server)!
        do {
            return try await Self.exchange(
                client: client, method: method, url: url, body: body, token: currentSession.accessToken,
                timeout: timeout, accept: accept)
        } catch let error as SyncError where error.code == .unauthorized {
            // Expired between the check and the request, or the server's key changed: refresh once.
            try await refresh()
            return try await Self.exchange(
                client: client, method: method, url: url, body: body, token: currentSession.accessToken,
                timeout: timeout, accept: accept)
        }
    }

    /// A request's body: JSON, or the binary form.
    enum Body {
        case json(Value)
        case binary([UInt8])
    }

    /// A successful answer's body, and whether it is the binary form.
    struct Answer {
        var bytes: ByteBuffer
        var isBinary: Bool
    }

    static func send(
        client: HTTPClient, method: HTTPMethod, url: URL, body: Value?, token: String?, timeout: TimeAmount
    ) async throws -> Value {
        try json(
            try await exchange(
                client: client, method: method, url: url, body: body.map(Body.json), token: token, timeout: timeout,
                accept: "application/json"))
    }

    static func json(_ answer: Answer) throws -> Value {
        guard !answer.isBinary, let value = try? CanonicalJSON.decode(answer.bytes.readableBytesView) else {
            throw SyncError(.unavailable, "the server answered without a protocol body")
        }
        return value
    }

    /// Sends a request; a successful answer comes back as bytes, an error answer is thrown as its
    /// ``SyncError`` (error bodies are always JSON).
    static func exchange(
        client: HTTPClient, method: HTTPMethod, url: URL, body: Body?, token: String?, timeout: TimeAmount,
        accept: String
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = method
        request.headers.add(name: "Accept", value: accept)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        switch body {
        case .json(let value):
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: CanonicalJSON.encode(value)))
        case .binary(let bytes):
            request.headers.add(name: "Content-Type", value: binaryType)
            request.body = .bytes(ByteBuffer(bytes: bytes))
        case nil:
            break
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await client.execute(request, timeout: timeout)
            bytes = try await response.body.collect(upTo: 256 * 1024 * 1024)
        } catch {
            throw SyncError(.unavailable, "cannot reach \(url.host ?? "the server"): \(error)")
        }
        let isBinary =
            response.headers.first(name: "Content-Type")?.lowercased().hasPrefix(binaryType) ?? false
        guard (200..<300).contains(response.status.code) else {
            guard !isBinary, let value = try? CanonicalJSON.decode(bytes.readableBytesView) else {
                throw SyncError(.unavailable, "the server answered \(response.status.code) without a protocol body")
            }
            if let error = value["error"], let decoded = try? SyncError(value: error) { throw decoded }
            throw SyncError(.unavailable, "the server answered \(response.status.code)")
        }
        return Answer(bytes: bytes, isBinary: isBinary)
    }
}
