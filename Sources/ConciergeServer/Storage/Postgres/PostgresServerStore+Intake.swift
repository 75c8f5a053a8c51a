import ConciergeCore
import Foundation
import Logging
import PostgresNIO

extension PostgresServerStore {
    public func defaultRegion(of provider: ProviderID) async throws -> String? {
        try await read { connection, logger in
            try await connection.query(
                "SELECT default_region FROM provider WHERE id = \(provider.rawValue)", logger: logger
            ).collect().first?.decode(String?.self) ?? nil
        }
    }

    public func setDefaultRegion(of provider: ProviderID, to region: String?) async throws {
        try await write { connection, logger in
            let updated = try await connection.query(
                "UPDATE provider SET default_region = \(region) WHERE id = \(provider.rawValue) RETURNING id",
                logger: logger
            ).collect()
            guard !updated.isEmpty else { throw StoreError(.notFound, "no provider \(provider)") }
        }
    }

    public func addIntegrationKey(_ key: StoredIntegrationKey) async throws {
        try await write { connection, logger in
            try await connection.query(
                """
                INSERT INTO integration_key (key_id, principal_id, secret_hash, channels, created_at, revoked_at)
                VALUES (\(key.id), \(key.principal.rawValue), \(key.secretHash), \(key.channelList),
                    \(key.createdAt), \(key.revokedAt))
                """, logger: logger)
        }
    }

    private static let keyColumns = "key_id, principal_id, secret_hash, channels, created_at, revoked_at"

    public func integrationKey(id: String) async throws -> StoredIntegrationKey? {
        try await select(
            "SELECT \(unescaped: Self.keyColumns) FROM integration_key WHERE key_id = \(id)", as: Self.integrationKey
        ).first
    }

    public func integrationKeys(of principal: PrincipalID) async throws -> [StoredIntegrationKey] {
        try await select(
            """
            SELECT \(unescaped: Self.keyColumns) FROM integration_key WHERE principal_id = \(principal.rawValue)
            ORDER BY created_at
            """, as: Self.integrationKey)
    }

    public func revokeIntegrationKey(id: String) async throws {
        try await write { connection, logger in
            let updated = try await connection.query(
                """
                UPDATE integration_key SET revoked_at = COALESCE(revoked_at, \(StoreSupport.nowMillis()))
                WHERE key_id = \(id) RETURNING key_id
                """, logger: logger
            ).collect()
            guard !updated.isEmpty else { throw StoreError(.notFound, "no integration key \(id)") }
        }
    }

    private static func integrationKey(_ row: PostgresRow) throws -> StoredIntegrationKey {
        let (id, principal, hash, channels, createdAt, revokedAt) = try row.decode(
            (String, String, Data, String, Int64, Int64?).self)
        return StoredIntegrationKey(
            id: id, principal: PrincipalID(principal), secretHash: hash,
            channels: StoredIntegrationKey.channels(fromList: channels), createdAt: createdAt, revokedAt: revokedAt)
    }

    private static let pointColumns = "provider_id, kind, value, customer_id, verified_by, verified_at, created_at"

    public func contactPoint(_ point: ContactPoint, provider: ProviderID) async throws -> StoredContactPoint? {
        try await read { connection, logger in
            try await Self.contactPoint(point, provider: provider, connection, logger)
        }
    }

    private static func contactPoint(
        _ point: ContactPoint, provider: ProviderID, _ connection: PostgresConnection, _ logger: Logger
    ) async throws -> StoredContactPoint? {
        try await connection.query(
            """
            SELECT \(unescaped: pointColumns) FROM contact_point
            WHERE provider_id = \(provider.rawValue) AND kind = \(point.kind.rawValue) AND value = \(point.storedValue)
            """, logger: logger
        ).collect().first.map(Self.contactPoint)
    }

    @discardableResult
    public func addContactPoint(_ point: StoredContactPoint) async throws -> StoredContactPoint {
        try await write { connection, logger in
            try await connection.query(
                """
                INSERT INTO contact_point (provider_id, kind, value, customer_id, verified_by, verified_at, created_at)
                VALUES (\(point.provider.rawValue), \(point.point.kind.rawValue), \(point.point.storedValue),
                    \(point.customer.rawValue), \(point.verifiedBy), \(point.verifiedAt), \(point.createdAt))
                ON CONFLICT DO NOTHING
                """, logger: logger)
            return try await Self.contactPoint(point.point, provider: point.provider, connection, logger) ?? point
        }
    }

    public func contactPoints(of customer: PrincipalID) async throws -> [StoredContactPoint] {
        try await select(
            """
            SELECT \(unescaped: Self.pointColumns) FROM contact_point WHERE customer_id = \(customer.rawValue)
            ORDER BY kind, value
            """, as: Self.contactPoint)
    }

    private static func contactPoint(_ row: PostgresRow) throws -> StoredContactPoint {
        let (provider, kind, value, customer, verifiedBy, verifiedAt, createdAt) = try row.decode(
            (String, String, String, String, String?, Int64?, Int64).self)
        return StoredContactPoint(
            provider: ProviderID(provider), point: StoredContactPoint.point(kind: kind, storedValue: value),
            customer: PrincipalID(customer), verifiedBy: verifiedBy, verifiedAt: verifiedAt, createdAt: createdAt)
    }

    public func removeContactPoint(_ point: ContactPoint, provider: ProviderID, customer: PrincipalID) async throws
        -> Bool
    {
        try await write { connection, logger in
            try await connection.query(
                """
                DELETE FROM contact_point WHERE provider_id = \(provider.rawValue) AND kind = \(point.kind.rawValue)
                    AND value = \(point.storedValue) AND customer_id = \(customer.rawValue)
                RETURNING value
                """, logger: logger
            ).collect().count > 0
        }
    }

    public func records(of type: RecordType, taggedWith tag: String) async throws -> [RecordID] {
        try await read { connection, logger in
            try await connection.query(
                "SELECT id FROM record WHERE type = \(type.rawValue) AND audience @> ARRAY[\(tag)]::text[] ORDER BY id",
                logger: logger
            ).collect().map { RecordID(try $0.decode(String.self)) }
        }
    }

    private static let intakeColumns =
        "provider_id, channel, channel_id, case_id, customer_id, entry_id, message_id, created_at"

    public func takenIn(provider: ProviderID, channel: ConciergeCore.Channel, channelID: String) async throws
        -> TakenInContact?
    {
        try await select(
            """
            SELECT \(unescaped: Self.intakeColumns) FROM contact_intake
            WHERE provider_id = \(provider.rawValue) AND channel = \(channel.rawValue) AND channel_id = \(channelID)
            """, as: Self.takenIn
        ).first
    }

    public func threaded(provider: ProviderID, messageIDs: [String]) async throws -> TakenInContact? {
        for id in messageIDs {
            let found = try await select(
                """
                SELECT \(unescaped: Self.intakeColumns) FROM contact_intake
                WHERE provider_id = \(provider.rawValue) AND message_id = \(id) LIMIT 1
                """, as: Self.takenIn)
            if let found = found.first { return found }
        }
        return nil
    }

    public func noteTakenIn(_ contacts: [TakenInContact]) async throws {
        try await write { connection, logger in
            for contact in contacts {
                try await connection.query(
                    """
                    INSERT INTO contact_intake
                        (provider_id, channel, channel_id, case_id, customer_id, entry_id, message_id, created_at)
                    VALUES (\(contact.provider.rawValue), \(contact.channel.rawValue), \(contact.channelID),
                        \(contact.caseID.rawValue), \(contact.customer.rawValue), \(contact.entry.rawValue),
                        \(contact.messageID), \(contact.createdAt))
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
            }
        }
    }

    private static func takenIn(_ row: PostgresRow) throws -> TakenInContact {
        let (provider, channel, channelID, caseID, customer, entry, messageID, createdAt) = try row.decode(
            (String, String, String, String, String, String, String?, Int64).self)
        return TakenInContact(
            provider: ProviderID(provider), channel: ConciergeCore.Channel(channel), channelID: channelID,
            caseID: RecordID(caseID),
            customer: PrincipalID(customer), entry: EntryID(entry), messageID: messageID, createdAt: createdAt)
    }

    /// The rows of a read, each decoded.
    private func select<T: Sendable>(_ query: PostgresQuery, as decode: @escaping @Sendable (PostgresRow) throws -> T)
        async throws -> [T]
    {
        try await read { connection, logger in try await connection.query(query, logger: logger).collect().map(decode) }
    }
}
