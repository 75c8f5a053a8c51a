import ConciergeCore
import Hummingbird

/// `POST /v1/integrations/contacts`: a channel integration hands over a contact (an e-mail, a
/// call, an SMS, ...) and the server puts it on the customer's case (``ContactIntake``). Behind
/// ``IntegrationKeyMiddleware``: an integration's API key, not a device's access token.
struct IntegrationRoutes {
    let intake: ContactIntake
    let live: LiveHub
    let metrics: ServerMetrics

    /// The largest request body, in bytes: a contact's body and its details.
    static let bodyLimit = 256 * 1024

    var collection: RouteCollection<ConciergeRequestContext> {
        let routes = RouteCollection(context: ConciergeRequestContext.self)
        routes.post("contacts") { request, context in try await contact(request, context) }
        return routes
    }

    func contact(_ request: Request, _ context: ConciergeRequestContext) async throws -> Response {
        guard let (integration, key) = context.integration else {
            throw APIError(.unauthorized, "send an API key: Authorization: Bearer ck_...")
        }
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
