import ConciergeCore
import Hummingbird

/// `POST /v1/integrations/contacts`: a channel integration hands over a contact (an e-mail, a
/// call, an SMS, ...) and the server puts it on the customer's case (``ContactIntake``);
/// `GET /v1/integrations/outbox` and `POST /v1/integrations/outbox/{id}/result`: it fetches the
/// replies it delivers and reports what became of them (``OutboundReplies``). Behind
/// ``IntegrationKeyMiddleware``: an integration's API key, not a device's access token.
struct IntegrationRoutes {
    let intake: ContactIntake
    let replies: OutboundReplies
    let live: LiveHub
    let metrics: ServerMetrics

    init(store: any ServerStore, live: LiveHub, metrics: ServerMetrics) {
        let writers = IntegrationWriters(store: store)
        self.intake = ContactIntake(store: store, writers: writers)
        self.replies = OutboundReplies(store: store, writers: writers)
        self.live = live
        self.metrics = metrics
    }

    /// The largest request body, in bytes: a contact's body and its details.
    static let bodyLimit = 256 * 1024

    var collection: RouteCollection<ConciergeRequestContext> {
        let routes = RouteCollection(context: ConciergeRequestContext.self)
        routes.post("contacts") { request, context in try await contact(request, context) }
        routes.get("outbox") { request, context in try await outbox(request, context) }
        routes.post("outbox/:id/result") { request, context in try await result(request, context) }
        return routes
    }

    /// `GET /v1/integrations/outbox?limit=N`: replies waiting for this integration on the key's
    /// channels, each leased for a minute (handed out again when no result comes).
    func outbox(_ request: Request, _ context: ConciergeRequestContext) async throws -> Response {
        let (integration, key) = try Self.integration(context)
        var limit = 20
        if let text = request.uri.queryParameters["limit"] {
            guard let value = Int(text), value > 0 else {
                throw APIError(.malformedRequest, "limit must be a positive integer")
            }
            limit = min(value, OutboundReplies.maximumBatch)
        }
        let handed = try await replies.handOut(to: integration, key: key, limit: limit)
        return JSONBody.response([
            "deliveries": .array(
                handed.map { handed in
                    let delivery = handed.delivery
                    var item: [String: Value] = [
                        "id": .string(delivery.id), "case": .string(delivery.caseID.rawValue),
                        "entry": .string(delivery.entry.rawValue), "channel": .string(delivery.channel.rawValue),
                        "attempt": .int(Int64(delivery.attempts)), "leasedUntil": .int(delivery.leasedUntil),
                        "body": .string(handed.body),
                        "to": handed.to.map { point in
                            .object([
                                "kind": .string(point.kind.rawValue), "value": .string(point.value),
                                "parsed": .bool(point.parsed),
                            ])
                        } ?? .null,
                    ]
                    if let subject = handed.subject { item["subject"] = .string(subject) }
                    if let inReplyTo = handed.inReplyTo { item["inReplyTo"] = .string(inReplyTo) }
                    return .object(item)
                })
        ])
    }

    /// The members a delivery's result may have.
    static let resultMembers: Set<String> = ["result", "detail", "channelId"]

    /// `POST /v1/integrations/outbox/{id}/result`: `{"result": "delivered"|"failed", "detail"?,
    /// "channelId"?}`, written to the case's timeline once.
    func result(_ request: Request, _ context: ConciergeRequestContext) async throws -> Response {
        let (integration, _) = try Self.integration(context)
        let id = context.parameters.get("id") ?? ""
        guard let body = try await JSONBody.read(request, limit: 16 * 1024).objectValue else {
            throw APIError(.malformedRequest, "send a result as a JSON object")
        }
        if let unknown = body.keys.sorted().first(where: { !Self.resultMembers.contains($0) }) {
            throw APIError(.unknownField, "a result has no member \"\(unknown)\"")
        }
        guard let text = body["result"]?.stringValue, let result = OutboundDelivery.State(rawValue: text),
            result != .pending
        else { throw APIError(.malformedRequest, "result is \"delivered\" or \"failed\"") }
        for member in ["detail", "channelId"] where body[member].map({ $0.stringValue == nil }) ?? false {
            throw APIError(.malformedRequest, "\(member) is a string")
        }
        let detail = body["detail"]?.stringValue.map { String($0.prefix(1000)) }
        let reported: OutboundReplies.Reported
        do {
            reported = try await replies.report(
                id, result: result, detail: detail, channelID: body["channelId"]?.stringValue, by: integration)
        } catch let error as SyncError {
            throw APIError(error)
        }
        if let counts = reported.counts {
            metrics.pushes.increment()
            metrics.record(counts)
            live.notify(counts.touched, seq: counts.touched.head)
        }
        let delivery = reported.delivery
        return JSONBody.response([
            "id": .string(delivery.id), "result": .string(delivery.state.rawValue),
            "case": .string(delivery.caseID.rawValue), "entry": .string(delivery.entry.rawValue),
            "alreadyReported": .bool(reported.again),
        ])
    }

    static func integration(_ context: ConciergeRequestContext) throws -> (Principal, StoredIntegrationKey) {
        guard let found = context.integration else {
            throw APIError(.unauthorized, "send an API key: Authorization: Bearer ck_...")
        }
        return found
    }

    func contact(_ request: Request, _ context: ConciergeRequestContext) async throws -> Response {
        let (integration, key) = try Self.integration(context)
        guard let body = try await JSONBody.read(request, limit: Self.bodyLimit).objectValue else {
            throw APIError(.malformedRequest, "send a contact as a JSON object")
        }
        let contact: IntakeContact
        do throws(SyncError) { contact = try IntakeContact(body) } catch { throw APIError(error) }
        let outcome: ContactIntake.Outcome
        do { outcome = try await intake.take(contact, from: integration, key: key) } catch let error as SyncError {
            throw APIError(error)
        }
        if let counts = outcome.counts {
            metrics.pushes.increment()
            metrics.record(counts)
            live.notify(counts.touched, seq: counts.touched.head)
        }
        return JSONBody.response(
            [
                "case": .string(outcome.caseID.rawValue), "customer": .string(outcome.customer.rawValue),
                "entry": .string(outcome.entry.rawValue), "matchedBy": .string(outcome.matchedBy),
                "newCase": .bool(outcome.newCase), "newCustomer": .bool(outcome.newCustomer),
                "duplicate": .bool(outcome.duplicate),
            ], status: outcome.duplicate ? .ok : .created)
    }
}

/// Authenticates an integration's API key (`Authorization: Bearer ck_...`) and puts the
/// integration and its key in the context; anything else gets `401 unauthorized`.
struct IntegrationKeyMiddleware: RouterMiddleware {
    let store: any ServerStore

    func handle(
        _ request: Request, context: ConciergeRequestContext,
        next: (Request, ConciergeRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw APIError(.unauthorized, "send an API key: Authorization: Bearer ck_...")
        }
        var context = context
        do {
            context.integration = try await IntegrationKeys.authenticate(String(header.dropFirst(7)), store: store)
        } catch let error as SyncError {
            throw APIError(error)
        }
        return try await next(request, context)
    }
}
