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
