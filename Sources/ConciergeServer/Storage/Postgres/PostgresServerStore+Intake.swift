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
        try await read { connection, logger in
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: "SELECT \(Self.keyColumns) FROM integration_key WHERE key_id = $1",
                    binds: Self.binds(id)),
                logger: logger
            ).collect().first.map(Self.integrationKey)
        }
    }

    public func integrationKeys(of principal: PrincipalID) async throws -> [StoredIntegrationKey] {
        try await read { connection, logger in
            try await connection.query(
                PostgresQuery(
                    unsafeSQL:
                        "SELECT \(Self.keyColumns) FROM integration_key WHERE principal_id = $1 ORDER BY created_at",
                    binds: Self.binds(principal.rawValue)),
                logger: logger
            ).collect().map(Self.integrationKey)
        }
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
            PostgresQuery(
                unsafeSQL:
                    "SELECT \(pointColumns) FROM contact_point WHERE provider_id = $1 AND kind = $2 AND value = $3",
                binds: binds(provider.rawValue, point.kind.rawValue, point.storedValue)),
            logger: logger
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
        try await read { connection, logger in
            try await connection.query(
                PostgresQuery(
                    unsafeSQL:
                        "SELECT \(Self.pointColumns) FROM contact_point WHERE customer_id = $1 ORDER BY kind, value",
                    binds: Self.binds(customer.rawValue)),
                logger: logger
            ).collect().map(Self.contactPoint)
        }
    }

    private static func contactPoint(_ row: PostgresRow) throws -> StoredContactPoint {
        let (provider, kind, value, customer, verifiedBy, verifiedAt, createdAt) = try row.decode(
            (String, String, String, String, String?, Int64?, Int64).self)
        return StoredContactPoint(
            provider: ProviderID(provider), point: StoredContactPoint.point(kind: kind, storedValue: value),
            customer: PrincipalID(customer), verifiedBy: verifiedBy, verifiedAt: verifiedAt, createdAt: createdAt)
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
        try await read { connection, logger in
            try await connection.query(
                PostgresQuery(
                    unsafeSQL:
                        "SELECT \(Self.intakeColumns) FROM contact_intake WHERE provider_id = $1 AND channel = $2 AND channel_id = $3",
                    binds: Self.binds(provider.rawValue, channel.rawValue, channelID)),
                logger: logger
            ).collect().first.map(Self.takenIn)
        }
    }

    public func threaded(provider: ProviderID, messageIDs: [String]) async throws -> TakenInContact? {
        try await read { connection, logger in
            for id in messageIDs {
                let rows = try await connection.query(
                    PostgresQuery(
                        unsafeSQL:
                            "SELECT \(Self.intakeColumns) FROM contact_intake WHERE provider_id = $1 AND message_id = $2 LIMIT 1",
                        binds: Self.binds(provider.rawValue, id)),
                    logger: logger
                ).collect()
                if let row = rows.first { return try Self.takenIn(row) }
            }
            return nil
        }
    }

    public func noteTakenIn(_ contact: TakenInContact) async throws {
        try await write { connection, logger in
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

    private static func takenIn(_ row: PostgresRow) throws -> TakenInContact {
        let (provider, channel, channelID, caseID, customer, entry, messageID, createdAt) = try row.decode(
            (String, String, String, String, String, String, String?, Int64).self)
        return TakenInContact(
            provider: ProviderID(provider), channel: ConciergeCore.Channel(channel), channelID: channelID,
            caseID: RecordID(caseID),
            customer: PrincipalID(customer), entry: EntryID(entry), messageID: messageID, createdAt: createdAt)
    }

    private static func binds(_ values: String...) -> PostgresBindings {
        var bindings = PostgresBindings()
        for value in values { bindings.append(value) }
        return bindings
    }
}
