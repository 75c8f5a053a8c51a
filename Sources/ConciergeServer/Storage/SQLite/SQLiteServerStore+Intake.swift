import ConciergeCore
import Foundation
import GRDB

extension SQLiteServerStore {
    public func defaultRegion(of provider: ProviderID) async throws -> String? {
        try await read { db in
            try String.fetchOne(
                db.cachedStatement(sql: "SELECT default_region FROM provider WHERE id = ?"),
                arguments: [provider.rawValue])
        }
    }

    public func setDefaultRegion(of provider: ProviderID, to region: String?) async throws {
        try await write { db in
            try db.cachedExecute(
                sql: "UPDATE provider SET default_region = ? WHERE id = ?", arguments: [region, provider.rawValue])
            guard db.changesCount > 0 else { throw StoreError(.notFound, "no provider \(provider)") }
        }
    }

    public func addIntegrationKey(_ key: StoredIntegrationKey) async throws {
        try await write { db in
            try db.cachedExecute(
                sql: """
                    INSERT INTO integration_key (key_id, principal_id, secret_hash, channels, created_at, revoked_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    key.id, key.principal.rawValue, key.secretHash, key.channelList, key.createdAt, key.revokedAt,
                ])
        }
    }

    public func integrationKey(id: String) async throws -> StoredIntegrationKey? {
        try await select("SELECT * FROM integration_key WHERE key_id = ?", [id], as: Self.integrationKey).first
    }

    public func integrationKeys(of principal: PrincipalID) async throws -> [StoredIntegrationKey] {
        try await select(
            "SELECT * FROM integration_key WHERE principal_id = ? ORDER BY created_at", [principal.rawValue],
            as: Self.integrationKey)
    }

    public func revokeIntegrationKey(id: String) async throws {
        try await write { db in
            try db.cachedExecute(
                sql: "UPDATE integration_key SET revoked_at = COALESCE(revoked_at, ?) WHERE key_id = ?",
                arguments: [StoreSupport.nowMillis(), id])
            guard db.changesCount > 0 else { throw StoreError(.notFound, "no integration key \(id)") }
        }
    }

    private static func integrationKey(_ row: Row) -> StoredIntegrationKey {
        StoredIntegrationKey(
            id: row["key_id"], principal: PrincipalID(row["principal_id"] as String), secretHash: row["secret_hash"],
            channels: StoredIntegrationKey.channels(fromList: row["channels"]), createdAt: row["created_at"],
            revokedAt: row["revoked_at"])
    }

    public func contactPoint(_ point: ContactPoint, provider: ProviderID) async throws -> StoredContactPoint? {
        try await read { db in try Self.contactPoint(point, provider: provider, in: db) }
    }

    private static func contactPoint(_ point: ContactPoint, provider: ProviderID, in db: Database) throws
        -> StoredContactPoint?
    {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM contact_point WHERE provider_id = ? AND kind = ? AND value = ?"),
            arguments: [provider.rawValue, point.kind.rawValue, point.storedValue]
        ).map(Self.contactPoint)
    }

    @discardableResult
    public func addContactPoint(_ point: StoredContactPoint) async throws -> StoredContactPoint {
        try await write { db in
            try db.cachedExecute(
                sql: """
                    INSERT INTO contact_point
                        (provider_id, kind, value, customer_id, verified_by, verified_at, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                    """,
                arguments: [
                    point.provider.rawValue, point.point.kind.rawValue, point.point.storedValue,
                    point.customer.rawValue, point.verifiedBy, point.verifiedAt, point.createdAt,
                ])
            return try Self.contactPoint(point.point, provider: point.provider, in: db) ?? point
        }
    }

    public func contactPoints(of customer: PrincipalID) async throws -> [StoredContactPoint] {
        try await select(
            "SELECT * FROM contact_point WHERE customer_id = ? ORDER BY kind, value", [customer.rawValue],
            as: Self.contactPoint)
    }

    private static func contactPoint(_ row: Row) -> StoredContactPoint {
        StoredContactPoint(
            provider: ProviderID(row["provider_id"] as String),
            point: StoredContactPoint.point(kind: row["kind"], storedValue: row["value"]),
            customer: PrincipalID(row["customer_id"] as String), verifiedBy: row["verified_by"],
            verifiedAt: row["verified_at"], createdAt: row["created_at"])
    }

    public func removeContactPoint(_ point: ContactPoint, provider: ProviderID, customer: PrincipalID) async throws
        -> Bool
    {
        try await write { db in
            try db.cachedExecute(
                sql: "DELETE FROM contact_point WHERE provider_id = ? AND kind = ? AND value = ? AND customer_id = ?",
                arguments: [provider.rawValue, point.kind.rawValue, point.storedValue, customer.rawValue])
            return db.changesCount > 0
        }
    }

    public func records(of type: RecordType, taggedWith tag: String) async throws -> [RecordID] {
        // A customer's tag sorts first in an audience stored sorted: found by the index on the
        // first tag (migration 007). Any other tag: every audience of the type is read.
        if tag.hasPrefix("customer:") {
            return try await read { db in
                try String.fetchAll(
                    db.cachedStatement(
                        sql: """
                            SELECT id FROM record INDEXED BY record_by_first_tag
                            WHERE type = ? AND json_extract(audience, '$[0]') = ? ORDER BY id
                            """),
                    arguments: [type.rawValue, tag]
                ).map(RecordID.init)
            }
        }
        return try await read { db in
            try String.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT id FROM record WHERE type = ?
                            AND EXISTS (SELECT 1 FROM json_each(record.audience) AS tag WHERE tag.value = ?)
                        ORDER BY id
                        """),
                arguments: [type.rawValue, tag]
            ).map(RecordID.init)
        }
    }

    public func takenIn(provider: ProviderID, channel: Channel, channelID: String) async throws -> TakenInContact? {
        try await select(
            "SELECT * FROM contact_intake WHERE provider_id = ? AND channel = ? AND channel_id = ?",
            [provider.rawValue, channel.rawValue, channelID], as: Self.takenIn
        ).first
    }

    public func threaded(provider: ProviderID, messageIDs: [String]) async throws -> TakenInContact? {
        for id in messageIDs {
            let found = try await select(
                "SELECT * FROM contact_intake WHERE provider_id = ? AND message_id = ? LIMIT 1",
                [provider.rawValue, id],
                as: Self.takenIn)
            if let found = found.first { return found }
        }
        return nil
    }

    public func noteTakenIn(_ contacts: [TakenInContact]) async throws {
        try await write { db in
            for contact in contacts {
                try db.cachedExecute(
                    sql: """
                        INSERT INTO contact_intake
                            (provider_id, channel, channel_id, case_id, customer_id, entry_id, message_id, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                        """,
                    arguments: [
                        contact.provider.rawValue, contact.channel.rawValue, contact.channelID, contact.caseID.rawValue,
                        contact.customer.rawValue, contact.entry.rawValue, contact.messageID, contact.createdAt,
                    ])
            }
        }
    }

    private static func takenIn(_ row: Row) -> TakenInContact {
        TakenInContact(
            provider: ProviderID(row["provider_id"] as String), channel: Channel(row["channel"] as String),
            channelID: row["channel_id"], caseID: RecordID(row["case_id"] as String),
            customer: PrincipalID(row["customer_id"] as String), entry: EntryID(row["entry_id"] as String),
            messageID: row["message_id"], createdAt: row["created_at"])
    }

    /// The rows of a read with text arguments, each decoded.
    private func select<T: Sendable>(_ sql: String, _ arguments: [String], as decode: @escaping @Sendable (Row) -> T)
        async throws -> [T]
    {
        try await read { db in
            try Row.fetchAll(db.cachedStatement(sql: sql), arguments: StatementArguments(arguments)).map(decode)
        }
    }
}
