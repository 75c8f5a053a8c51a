import ConciergeCore
import GRDB

extension SQLiteServerStore {
    public func enqueue(_ deliveries: [OutboundDelivery]) async throws {
        try await write { db in
            for delivery in deliveries {
                try db.cachedExecute(
                    sql: """
                        INSERT INTO outbound_delivery (\(OutboundDelivery.columns))
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                        """,
                    arguments: [
                        delivery.id, delivery.provider.rawValue, delivery.integration?.rawValue,
                        delivery.caseID.rawValue, delivery.entry.rawValue, delivery.channel.rawValue,
                        delivery.state.rawValue, delivery.attempts, delivery.leasedUntil, delivery.detail,
                        delivery.createdAt, delivery.finishedAt,
                    ])
            }
        }
    }

    public func lease(integration: PrincipalID, channels: Set<Channel>, limit: Int, now: Int64, until: Int64)
        async throws -> [OutboundDelivery]
    {
        guard !channels.isEmpty, limit > 0 else { return [] }
        let list = channels.map(\.rawValue).sorted()
        return try await write { db in
            let marks = Array(repeating: "?", count: list.count).joined(separator: ", ")
            let ids = try String.fetchAll(
                db,
                sql: """
                    SELECT delivery_id FROM outbound_delivery
                    WHERE integration_id = ? AND state = 'pending' AND leased_until <= ? AND channel IN (\(marks))
                    ORDER BY created_at, delivery_id LIMIT ?
                    """,
                arguments: StatementArguments(
                    [integration.rawValue, now] + list.map { $0 as any DatabaseValueConvertible } + [limit]))
            return try ids.compactMap { id in
                try db.cachedExecute(
                    sql: "UPDATE outbound_delivery SET leased_until = ?, attempts = attempts + 1 WHERE delivery_id = ?",
                    arguments: [until, id])
                return try Self.delivery(id, in: db)
            }
        }
    }

    public func delivery(id: String) async throws -> OutboundDelivery? {
        try await read { db in try Self.delivery(id, in: db) }
    }

    public func finish(id: String, state: OutboundDelivery.State, detail: String?, at: Int64) async throws
        -> OutboundDelivery?
    {
        try await write { db in
            try db.cachedExecute(
                sql: """
                    UPDATE outbound_delivery SET state = ?, detail = ?, finished_at = ?
                    WHERE delivery_id = ? AND state = 'pending'
                    """,
                arguments: [state.rawValue, detail, at, id])
            return try Self.delivery(id, in: db)
        }
    }

    public func integrations(of provider: ProviderID, for channel: Channel) async throws -> [PrincipalID] {
        let rows = try await read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT k.principal_id, k.channels FROM integration_key k JOIN principal p ON p.id = k.principal_id
                        WHERE p.provider_id = ? AND p.role = 'integration' AND k.revoked_at IS NULL
                        """), arguments: [provider.rawValue]
            ).map { (PrincipalID($0["principal_id"] as String), $0["channels"] as String) }
        }
        return Set(rows.filter { StoredIntegrationKey.channels(fromList: $0.1).contains(channel) }.map(\.0)).sorted()
    }

    private static func delivery(_ id: String, in db: Database) throws -> OutboundDelivery? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(OutboundDelivery.columns) FROM outbound_delivery WHERE delivery_id = ?"),
            arguments: [id]
        ).map { row in
            OutboundDelivery(
                id: row["delivery_id"], provider: ProviderID(row["provider_id"] as String),
                integration: (row["integration_id"] as String?).map(PrincipalID.init),
                caseID: RecordID(row["case_id"] as String), entry: EntryID(row["entry_id"] as String),
                channel: Channel(row["channel"] as String),
                state: OutboundDelivery.State(rawValue: row["state"]) ?? .failed, attempts: row["attempts"],
                leasedUntil: row["leased_until"], detail: row["detail"], createdAt: row["created_at"],
                finishedAt: row["finished_at"])
        }
    }
}
