import ConciergeCore
import Foundation

/// The API keys of channel integrations (a phone system, a mail gateway, a chat widget): random,
/// shown once, stored only as a hash, several per integration so that a key rotates without
/// downtime, revocable, each limited to the channels it may write. A key reads
/// `ck_<key id>_<secret>`: the id finds the stored row, the secret is checked against its hash.
enum IntegrationKeys {
    static let prefix = "ck_"

    /// A new key for `integration`: the text to show once, and what is stored.
    static func issue(for integration: PrincipalID, channels: Set<Channel>, now: Int64) -> (
        key: String, stored: StoredIntegrationKey
    ) {
        var generator = SystemRandomNumberGenerator()
        let id = (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        let secret = StoreSupport.randomToken()
        return (
            "\(prefix)\(id)_\(secret)",
            StoredIntegrationKey(
                id: id, principal: integration, secretHash: StoreSupport.hash(secret), channels: channels,
                createdAt: now)
        )
    }

    /// The key id and secret of a presented key; `nil` when it is not shaped like one.
    static func parse(_ presented: String) -> (id: String, secret: String)? {
        guard presented.hasPrefix(prefix) else { return nil }
        let rest = presented.dropFirst(prefix.count)
        guard let separator = rest.firstIndex(of: "_") else { return nil }
        let id = rest[..<separator]
        let secret = rest[rest.index(after: separator)...]
        guard id.count == 16, id.allSatisfy(\.isHexDigit), !secret.isEmpty else { return nil }
        return (String(id), String(secret))
    }

    /// The integration behind a presented key, and the key.
    /// - Throws: ``SyncError`` `unauthorized` for a malformed, unknown or revoked key, or one whose
    ///   integration is gone (one message for all: nobody learns which keys exist).
    static func authenticate(_ presented: String, store: any ServerStore) async throws -> (
        Principal, StoredIntegrationKey
    ) {
        let refused = SyncError(.unauthorized, "the API key is unknown or revoked")
        guard let (id, secret) = parse(presented), let stored = try await store.integrationKey(id: id),
            constantTimeEqual(stored.secretHash, StoreSupport.hash(secret)), stored.revokedAt == nil,
            let principal = try await store.principal(stored.principal), principal.role == .integration
        else { throw refused }
        return (principal, stored)
    }

    /// Compares two digests in time that does not depend on where they differ.
    static func constantTimeEqual(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}

/// The administration of channel integrations (`concierge-server admin`): create one, give it
/// keys, revoke them.
public enum IntegrationAdmin {
    /// Creates an integration of `provider` (a principal with role `integration`) and the replica
    /// its contacts are written by.
    public static func create(id: PrincipalID, provider: ProviderID, name: String, store: any ServerStore)
        async throws -> ReplicaID
    {
        try await store.createPrincipal(Principal(id: id, provider: provider, role: .integration, displayName: name))
        return try await store.enrolDevices(for: id, count: 1, name: "integration \(id)")[0].replica
    }

    /// A new API key for an integration, limited to `channels`: the key, to show once, and its id.
    /// - Throws: ``StoreError`` `notFound` unless `integration` is an integration; `ValidationError`
    ///   style ``SyncError`` `malformedRequest` for no channel or an unknown one.
    public static func addKey(to integration: PrincipalID, channels: [String], store: any ServerStore) async throws
        -> (key: String, id: String)
    {
        guard let principal = try await store.principal(integration), principal.role == .integration else {
            throw StoreError(.notFound, "no integration \(integration)")
        }
        let channels = Set(channels.map(Channel.init))
        guard !channels.isEmpty, channels.isSubset(of: Channel.all) else {
            throw SyncError(
                .malformedRequest,
                "name the channels the key may write: \(Channel.all.map(\.rawValue).sorted().joined(separator: ", "))"
            )
        }
        let (key, stored) = IntegrationKeys.issue(
            for: integration, channels: channels, now: StoreSupport.nowMillis())
        try await store.addIntegrationKey(stored)
        return (key, stored.id)
    }
}
