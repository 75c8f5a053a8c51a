import ConciergeCore
import Hummingbird

/// `GET /v1/contact-points`, `POST /v1/contact-points` and `POST /v1/contact-points/remove`: a
/// customer sees and manages their own contact points (the numbers, addresses and handles contacts
/// are matched by, docs/intake.md); staff of the provider see and add a customer's (`customer`).
/// Behind ``CallerMiddleware``.
struct ContactPointRoutes {
    let store: any ServerStore

    var collection: RouteCollection<ConciergeRequestContext> {
        let routes = RouteCollection(context: ConciergeRequestContext.self)
        routes.get("contact-points") { request, context in
            let customer = try await customer(request.uri.queryParameters["customer"].map(String.init), context)
            return try await list(customer)
        }
        routes.post("contact-points") { request, context in try await change(request, context, remove: false) }
        routes.post("contact-points/remove") { request, context in try await change(request, context, remove: true) }
        return routes
    }

    /// Whose points the caller reads or changes (``ContactPointAdmin/owner(named:by:store:)``).
    func customer(_ named: String?, _ context: ConciergeRequestContext) async throws -> Principal {
        do {
            return try await ContactPointAdmin.owner(named: named, by: context.requireCaller().principal, store: store)
        } catch let error as SyncError {
            throw APIError(error)
        }
    }

    func list(_ customer: Principal) async throws -> Response {
        let points = try await store.contactPoints(of: customer.id).filter { $0.provider == customer.provider }
        return JSONBody.response([
            "customer": .string(customer.id.rawValue),
            "contactPoints": .array(points.map(Self.value)),
        ])
    }

    static let members: Set<String> = ["kind", "value", "customer"]

    func change(_ request: Request, _ context: ConciergeRequestContext, remove: Bool) async throws -> Response {
        guard let body = try await JSONBody.read(request, limit: 16 * 1024).objectValue else {
            throw APIError(.malformedRequest, "send a contact point as a JSON object")
        }
        if let unknown = body.keys.sorted().first(where: { !Self.members.contains($0) }) {
            throw APIError(.unknownField, "a contact point has no member \"\(unknown)\"")
        }
        guard let kind = body["kind"]?.stringValue, let written = body["value"]?.stringValue else {
            throw APIError(.malformedRequest, "a contact point names its kind and value")
        }
        let customer = try await customer(body["customer"]?.stringValue, context)
        let caller = try context.requireCaller().principal
        do {
            if remove {
                try await ContactPointAdmin.remove(written, kind: kind, of: customer, store: store)
            } else {
                _ = try await ContactPointAdmin.add(
                    written, kind: kind, to: customer.id, verifiedBy: ContactPointAdmin.verifier(caller), store: store)
            }
        } catch let error as SyncError {
            throw APIError(error)
        } catch let error as StoreError where error.code == .conflict {
            throw APIError(.conflict, "the contact point belongs to another customer")
        }
        return try await list(customer)
    }

    static func value(_ stored: StoredContactPoint) -> Value {
        .object([
            "kind": .string(stored.point.kind.rawValue), "value": .string(stored.point.value),
            "parsed": .bool(stored.point.parsed), "verified": .bool(stored.verified),
            "verifiedBy": stored.verifiedBy.map(Value.string) ?? .null,
            "verifiedAt": stored.verifiedAt.map(Value.int) ?? .null,
        ])
    }
}
