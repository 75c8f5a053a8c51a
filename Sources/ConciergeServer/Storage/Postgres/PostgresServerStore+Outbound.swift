import ConciergeCore
import Logging
import PostgresNIO

extension PostgresServerStore {
    public func enqueue(_ deliveries: [OutboundDelivery]) async throws {
        try await write { connection, logger in
            for delivery in deliveries {
                try await connection.query(
                    """
                    INSERT INTO outbound_delivery (\(unescaped: OutboundDelivery.columns))
                    VALUES (\(delivery.id), \(delivery.provider.rawValue), \(delivery.integration?.rawValue),
                        \(delivery.caseID.rawValue), \(delivery.entry.rawValue), \(delivery.channel.rawValue),
                        \(delivery.state.rawValue), \(Int64(delivery.attempts)), \(delivery.leasedUntil),
                        \(delivery.detail), \(delivery.createdAt), \(delivery.finishedAt))
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
            }
        }
    }

    public func lease(
        integration: PrincipalID, channels: Set<ConciergeCore.Channel>, limit: Int, now: Int64, until: Int64
    )
        async throws -> [OutboundDelivery]
    {
        guard !channels.isEmpty, limit > 0 else { return [] }
        let list = channels.map(\.rawValue).sorted()
        // Several instances lease at once: each row goes to one (SKIP LOCKED), never twice.
        let leased = try await write { connection, logger in
            try await connection.query(
                """
                UPDATE outbound_delivery SET leased_until = \(until), attempts = attempts + 1
                WHERE delivery_id IN (
                    SELECT delivery_id FROM outbound_delivery
                    WHERE integration_id = \(integration.rawValue) AND state = 'pending' AND leased_until <= \(now)
                        AND channel = ANY(\(list))
                    ORDER BY created_at, delivery_id LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED)
                RETURNING \(unescaped: OutboundDelivery.columns)
                """, logger: logger
            ).collect().map(Self.delivery)
        }
        return leased.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    public func delivery(id: String) async throws -> OutboundDelivery? {
        try await read { connection, logger in
            try await connection.query(
                "SELECT \(unescaped: OutboundDelivery.columns) FROM outbound_delivery WHERE delivery_id = \(id)",
                logger: logger
            ).collect().first.map(Self.delivery)
        }
    }

    public func finish(id: String, state: OutboundDelivery.State, detail: String?, at: Int64) async throws
        -> OutboundDelivery?
    {
        try await write { connection, logger in
            try await connection.query(
                """
                UPDATE outbound_delivery SET state = \(state.rawValue), detail = \(detail), finished_at = \(at)
                WHERE delivery_id = \(id) AND state = 'pending'
                """, logger: logger)
            return try await connection.query(
                "SELECT \(unescaped: OutboundDelivery.columns) FROM outbound_delivery WHERE delivery_id = \(id)",
                logger: logger
            ).collect().first.map(Self.delivery)
        }
    }

    public func integrations(of provider: ProviderID, for channel: ConciergeCore.Channel) async throws -> [PrincipalID]
    {
        let rows = try await read { connection, logger in
            try await connection.query(
                """
                SELECT k.principal_id, k.channels FROM integration_key k JOIN principal p ON p.id = k.principal_id
                WHERE p.provider_id = \(provider.rawValue) AND p.role = 'integration' AND k.revoked_at IS NULL
                """, logger: logger
            ).collect().map { try $0.decode((String, String).self) }
        }
        return Set(
            rows.filter { StoredIntegrationKey.channels(fromList: $0.1).contains(channel) }.map { PrincipalID($0.0) }
        ).sorted()
    }

    private static func delivery(_ row: PostgresRow) throws -> OutboundDelivery {
        let (
            id, provider, integration, caseID, entry, channel, state, attempts, leasedUntil, detail, createdAt,
            finishedAt
        ) =
            try row.decode(
                (String, String, String?, String, String, String, String, Int64, Int64, String?, Int64, Int64?).self)
        return OutboundDelivery(
            id: id, provider: ProviderID(provider), integration: integration.map(PrincipalID.init),
            caseID: RecordID(caseID), entry: EntryID(entry), channel: ConciergeCore.Channel(channel),
            state: OutboundDelivery.State(rawValue: state) ?? .failed, attempts: Int(attempts),
            leasedUntil: leasedUntil, detail: detail, createdAt: createdAt, finishedAt: finishedAt)
    }
}
