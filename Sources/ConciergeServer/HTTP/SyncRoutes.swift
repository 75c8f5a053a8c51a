import ConciergeCore
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging

/// The sync API under `/v1`, described in `schema/openapi.yaml`.
struct SyncRoutes: Sendable {
    let store: any ServerStore
    let tokens: TokenService
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    let live: LiveHub
    let logger: Logger

    func add(to router: Router<ConciergeRequestContext>) {
        router.get("healthz") { _, _ in JSONBody.response(["status": "ok"]) }
        router.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
        let v1 = router.group("v1")
        v1.post("enrol") { request, _ in try await enrol(request) }
        v1.post("token") { request, _ in try await refresh(request) }
        v1.post("push") { request, context in try await push(request, logger: context.logger) }
        v1.get("pull") { request, _ in try await pull(request) }
        v1.get("devices") { request, _ in try await devices(request) }
        v1.get("integrity") { request, _ in try await integrity(request) }
        v1.get("records") { request, _ in try await records(request) }
        v1.delete("devices/:replica") { request, context in
            try await revoke(request, replica: context.parameters.get("replica"))
        }
        // Authenticated once, before the upgrade: a refused token gets its 401 as an HTTP answer,
        // and the WebSocket handler takes the caller from the context the route saw.
        v1.group("live").add(middleware: CallerMiddleware(authenticate: authenticate)).ws { _, _ in
            .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            guard let caller = context.requestContext.caller else {
                throw APIError(.unauthorized, "send an access token: Authorization: Bearer <token>")
            }
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
                // The client sends nothing that matters; reading keeps pings and the close handshake going.
                for try await _ in inbound {}
                group.cancelAll()
            }
        }
    }

    /// The caller behind the request's bearer token: a valid token of an active device.
    func authenticate(_ request: Request) async throws -> Caller {
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
                "concierge.device": "\(claims.device)",
            ])
        return Caller(principal: principal, replica: claims.device)
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

    func push(_ request: Request, logger: Logger) async throws -> Response {
        let caller = try await authenticate(request)
        let start = ContinuousClock.now
        let push: PushRequest
        if JSONBody.isBinary(request) {
            // The compact binary batch (docs/encoding.md): what a client on a slow link sends.
            let body = try await JSONBody.bytes(of: request, limit: configuration.maxBodyBytes)
            do {
                push = PushRequest(changeSets: try CompactBinary.decode(Array(body.readableBytesView)))
            } catch { throw APIError(.malformedRequest, error.message) }
        } else {
            let body = try await JSONBody.read(request, limit: configuration.maxBodyBytes)
            guard let sets = body["changeSets"]?.arrayValue else {
                throw APIError(.malformedRequest, "send {\"changeSets\": [...]}")
            }
            guard sets.count <= configuration.maxBatchSets else {
                throw APIError(.batchTooLarge, "at most \(configuration.maxBatchSets) change sets per push")
            }
            do { push = try PushRequest(value: body) } catch { throw APIError(.malformedRequest, error.message) }
        }
        guard push.changeSets.count <= configuration.maxBatchSets else {
            throw APIError(.batchTooLarge, "at most \(configuration.maxBatchSets) change sets per push")
        }
        var policy = PushPolicy()
        policy.drift = DriftBound(milliseconds: configuration.driftMilliseconds)
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        let (outcomes, counts) = try await store.push(push.changeSets, from: caller, serverMillis: now, policy: policy)
        metrics.pushes.increment()
        metrics.record(counts)
        live.notify(counts.touched, seq: counts.touched.head)
        metrics.pushDuration.record(ContinuousClock.now - start)
        return JSONBody.response(PushResponse(outcomes: outcomes, serverMillis: now).value)
    }

    func pull(_ request: Request) async throws -> Response {
        let caller = try await authenticate(request)
        let start = ContinuousClock.now
        var cursor: Cursor?
        if let text = request.uri.queryParameters["cursor"].map(String.init) {
            guard let parsed = Cursor(text) else { throw APIError(.invalidCursor, "cursor must be \"epoch:seq\"") }
            cursor = parsed
        }
        var limit = configuration.maxPullLimit
        if let text = request.uri.queryParameters["limit"] {
            guard let value = Int(text), value > 0 else {
                throw APIError(.malformedRequest, "limit must be a positive integer")
            }
            limit = min(value, configuration.maxPullLimit)
        }
        let snapshot = request.uri.queryParameters["snapshot"].map(String.init)
        let response = try await store.pull(for: caller, cursor: cursor, limit: limit, snapshot: snapshot)
        metrics.pulls.increment()
        if case .page(let page) = response, let cursor, !page.hasMore {
            // The page's cursor is the head when nothing more is left.
            metrics.pullLag.record(Double(page.cursor.seq - min(cursor.seq, page.cursor.seq)))
        }
        if case .reset(let snapshot) = response, !snapshot.continues { metrics.recordReset(reason: snapshot.reason) }
        // Built before the duration is taken: encoding is part of a pull's cost. Snapshot images go
        // as they are to a client that takes them, decoded to any other.
        let answer: Response
        if JSONBody.acceptsBinary(request) {
            answer = JSONBody.binaryResponse(
                JSONBody.acceptsImages(request) ? response.binary : try Self.inlined(response).binary)
        } else {
            answer = JSONBody.response(try Self.inlined(response).value)
        }
        metrics.pullDuration.record(ContinuousClock.now - start)
        return answer
    }

    /// The answer with its snapshot images decoded; an image that does not decode is corrupt
    /// storage.
    static func inlined(_ response: PullResponse) throws -> PullResponse {
        do { return try response.inliningImages() } catch {
            throw StoreError(.corrupt, "a snapshot image does not decode: \(error.message)")
        }
    }

    /// The digest of the caller's projection, with the log position it was taken at.
    func integrity(_ request: Request) async throws -> Response {
        let caller = try await authenticate(request)
        let (records, head) = try await store.projectionWithHead(for: caller.principal)
        var value = IntegrityDigest(records: records).value
        if case .object(var members) = value {
            members["cursor"] = Cursor(epoch: store.epoch, seq: head).value
            value = .object(members)
        }
        return JSONBody.response(value)
    }

    /// The caller's projection of the records in one integrity bucket, to repair what differs.
    func records(_ request: Request) async throws -> Response {
        let caller = try await authenticate(request)
        guard let bucket = request.uri.queryParameters["bucket"].map(String.init) else {
            throw APIError(.malformedRequest, "name a bucket: ?bucket=case/3")
        }
        let (records, head) = try await store.projectionWithHead(for: caller.principal)
        let members = records.filter { IntegrityDigest.bucket(of: $0.key) == bucket }
        return JSONBody.response([
            "records": .array(members.map(\.value)), "cursor": Cursor(epoch: store.epoch, seq: head).value,
        ])
    }

    func devices(_ request: Request) async throws -> Response {
        let caller = try await authenticate(request)
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

    func revoke(_ request: Request, replica: String?) async throws -> Response {
        let caller = try await authenticate(request)
        guard let replica = replica.flatMap(ReplicaID.init) else { throw APIError(.notFound, "no such device") }
        do {
            try await store.revokeDevice(replica, owner: caller.principal.id)
        } catch let error as StoreError where error.code == .notFound {
            throw APIError(.notFound, "no such device")
        }
        return JSONBody.response(["revoked": .string(replica.description)])
    }
}
