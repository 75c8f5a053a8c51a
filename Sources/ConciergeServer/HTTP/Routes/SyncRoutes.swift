import ConciergeCore
import Foundation
import Hummingbird
import Logging

/// `POST /v1/push`, `GET /v1/pull`, `GET /v1/integrity` and `GET /v1/records`: the sync protocol
/// (`docs/sync.md`, `schema/openapi.yaml`), behind ``CallerMiddleware``.
struct SyncRoutes: Sendable {
    let store: any ServerStore
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    let live: LiveHub

    var collection: RouteCollection<ConciergeRequestContext> {
        let routes = RouteCollection(context: ConciergeRequestContext.self)
        routes.post("push") { request, context in
            try await push(request, caller: context.requireCaller(), logger: context.logger)
        }
        routes.get("pull") { request, context in
            try await pull(request, caller: context.requireCaller(), logger: context.logger)
        }
        routes.get("integrity") { _, context in try await integrity(context.requireCaller()) }
        routes.get("records") { request, context in try await records(request, caller: context.requireCaller()) }
        return routes
    }

    func push(_ request: Request, caller: Caller, logger: Logger) async throws -> Response {
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
        policy.limits = configuration.contentLimits
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        let (outcomes, counts) = try await store.push(push.changeSets, from: caller, serverMillis: now, policy: policy)
        metrics.pushes.increment()
        metrics.record(counts)
        // Each refused set, by code: never its content.
        for outcome in outcomes where outcome.status == .rejected {
            logger.info(
                "change set refused",
                metadata: [
                    LogKey.principal: "\(caller.principal.id)", LogKey.device: "\(caller.replica)",
                    LogKey.changeSet: "\(outcome.id.seq)", LogKey.code: "\(outcome.error?.code.rawValue ?? "-")",
                ])
        }
        live.notify(counts.touched, seq: counts.touched.head)
        metrics.pushDuration.record(ContinuousClock.now - start)
        return JSONBody.response(PushResponse(outcomes: outcomes, serverMillis: now).value)
    }

    func pull(_ request: Request, caller: Caller, logger: Logger) async throws -> Response {
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
        if case .reset(let snapshot) = response, !snapshot.continues {
            metrics.recordReset(reason: snapshot.reason)
            logger.info(
                "reset",
                metadata: [
                    LogKey.principal: "\(caller.principal.id)", LogKey.device: "\(caller.replica)",
                    "concierge.reason": "\(snapshot.reason)",
                ])
        }
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
    func integrity(_ caller: Caller) async throws -> Response {
        let (records, head) = try await store.projectionWithHead(for: caller.principal)
        var value = IntegrityDigest(records: records).value
        if case .object(var members) = value {
            members["cursor"] = Cursor(epoch: store.epoch, seq: head).value
            value = .object(members)
        }
        return JSONBody.response(value)
    }

    /// The caller's projection of the records in one integrity bucket, to repair what differs.
    func records(_ request: Request, caller: Caller) async throws -> Response {
        guard let bucket = request.uri.queryParameters["bucket"].map(String.init) else {
            throw APIError(.malformedRequest, "name a bucket: ?bucket=case/3")
        }
        let (records, head) = try await store.projectionWithHead(for: caller.principal)
        let members = records.filter { IntegrityDigest.bucket(of: $0.key) == bucket }
        return JSONBody.response([
            "records": .array(members.map(\.value)), "cursor": Cursor(epoch: store.epoch, seq: head).value,
        ])
    }
}
