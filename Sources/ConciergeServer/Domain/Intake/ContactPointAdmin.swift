import ConciergeCore

/// Contact points an administrator registers for a customer (an import of known numbers and
/// addresses), so that contacts from them find the customer (docs/intake.md).
public enum ContactPointAdmin {
    /// Reads `written` as a point of `kind` (`phone`, `email`, `social` as `network:handle`) in the
    /// customer's provider's region and stores it for the customer, verified by `verifiedBy`
    /// (`nil`: unverified).
    /// - Throws: ``StoreError`` `notFound` for no such customer, `conflict` when the point belongs
    ///   to another customer; ``SyncError`` `malformedRequest` for a point that cannot be read.
    public static func add(
        _ written: String, kind: String, to customer: PrincipalID, verifiedBy: String?, store: any ServerStore
    ) async throws -> StoredContactPoint {
        guard let principal = try await store.principal(customer), principal.role == .customer else {
            throw StoreError(.notFound, "no customer \(customer)")
        }
        let point = try await read(written, kind: kind, provider: principal.provider, store: store)
        let now = StoreSupport.nowMillis()
        let stored = try await store.addContactPoint(
            StoredContactPoint(
                provider: principal.provider, point: point, customer: customer, verifiedBy: verifiedBy,
                verifiedAt: verifiedBy == nil ? nil : now, createdAt: now))
        guard stored.customer == customer else {
            throw StoreError(.conflict, "\(point) belongs to customer \(stored.customer)")
        }
        return stored
    }

    /// Whose points `caller` reads or changes: a customer their own (naming nobody else), staff a
    /// customer of their provider they name.
    /// - Throws: ``SyncError``: `outOfScope` for a customer naming another or a role without
    ///   customers, `malformedRequest` for staff naming nobody, `notFound` for no such customer.
    public static func owner(named: String?, by caller: Principal, store: any ServerStore) async throws -> Principal {
        if caller.role == .customer {
            guard named == nil || named == caller.id.rawValue else {
                throw SyncError(.outOfScope, "a customer manages their own contact points")
            }
            return caller
        }
        guard caller.role.isStaff else { throw SyncError(.outOfScope, "\(caller.role.withArticle) has no customers") }
        guard let named, !named.isEmpty else { throw SyncError(.malformedRequest, "name the customer") }
        guard let customer = try await store.principal(PrincipalID(named)), customer.role == .customer,
            customer.provider == caller.provider
        else { throw SyncError(.notFound, "no customer \(named) at this provider") }
        return customer
    }

    /// How a point `caller` adds is verified: a customer, signed in on an enrolled device, confirms
    /// their own; staff confirm a point for the customer.
    public static func verifier(_ caller: Principal) -> String {
        caller.role == .customer ? "customer" : "staff:\(caller.id)"
    }

    /// Removes a point of `customer`, read as ``read(_:kind:provider:store:)`` reads it.
    /// - Throws: ``SyncError`` `notFound` when the customer has no such point.
    public static func remove(_ written: String, kind: String, of customer: Principal, store: any ServerStore)
        async throws
    {
        let point = try await read(written, kind: kind, provider: customer.provider, store: store)
        guard try await store.removeContactPoint(point, provider: customer.provider, customer: customer.id) else {
            throw SyncError(.notFound, "\(customer.id) has no contact point \(point.value)")
        }
    }

    /// `written` read as a point of `kind` (`phone` in the provider's region, `email`, `social` as
    /// `network:handle`), the way the intake compares points.
    /// - Throws: ``SyncError`` `malformedRequest` for a point that cannot be read.
    public static func read(_ written: String, kind: String, provider: ProviderID, store: any ServerStore)
        async throws -> ContactPoint
    {
        let point: ContactPoint?
        switch kind {
        case "phone": point = ContactPoint.phone(written, region: try await store.defaultRegion(of: provider))
        case "email": point = ContactPoint.email(written)
        case "social":
            let parts = written.split(separator: ":", maxSplits: 1).map(String.init)
            point = parts.count == 2 ? ContactPoint.social(network: parts[0], handle: parts[1]) : nil
        default: point = nil
        }
        guard let point else {
            throw SyncError(
                .malformedRequest, "\(written) is not a \(kind) contact point (phone, email, social as network:handle)")
        }
        return point
    }
}
