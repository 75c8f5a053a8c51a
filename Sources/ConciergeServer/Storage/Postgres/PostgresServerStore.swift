import ConciergeCore
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// The PostgreSQL engine: several stateless `concierge-server` instances on one cluster, through
/// postgres-nio's connection pool. Every statement binds its values; nothing blocks an event loop.
///
/// Push batches that arrive while a group is under way form the next group (as on SQLite), checked
/// beside the instance's writer while it writes the group before (``PostgresPushEngine``). Each
/// group's transaction holds the log head row (`SELECT ... FOR UPDATE`) from its first statement to
/// its commit. Pushes therefore commit one group at a time across all instances (the same single
/// writer as SQLite, now shared), and log positions commit in the order they are assigned:
/// a reader that sees position `n` sees every position below it, so `seq > cursor` never skips a
/// change (docs/operations.md explains the choice). Pulls read in one repeatable-read snapshot.
public final class PostgresServerStore: ServerStore {
    /// How a store is opened beyond its URL: what tests change.
    struct Options: Sendable {
        /// What a test watches inside the store (``StoreObserver``).
        var observer: any StoreObserver = NoObserver()
        /// Pending rows of this many sets are written while the group merges on (a test lowers it
        /// so that every batch's rows are).
        var writeBehindSets = PostgresPushStore.writeBehindSets
        /// Whether groups are checked beside the writer (``PushLine``); `false` runs every group
        /// under the head row's lock, as while instances contend (a test of that path sets it).
        var checksBesideWriter = true
    }

    let client: PostgresClient
    /// The connection pool and the image builder, running while the store is open.
    private let services: StoreServices
    public let epoch: String
    let logger: Logger
    let options: Options
    /// Push batches waiting for, being checked in, or written by the instance's push line.
    let pushes: PushLine<PostgresPushEngine>
    /// The push writer's decoded copy of recent records.
    let records: RecordCache
    /// Builds the records' snapshot images in the background.
    let images: SnapshotImages
    /// This store's id on the notices it sends, so that its instance skips its own.
    let instance = ReplicaID.random().description
    /// The channel pushes notify on commit, for live fan-out across instances.
    static let channel = "concierge_live"

    /// Connects to `url` (`postgres://user:password@host:port/database?sslmode=...`), applies the
    /// migrations (once, under an advisory lock, whichever instance comes first) and reads the epoch.
    /// - Parameter recordCache: about how many records the push writer keeps decoded (0: none).
    /// - Parameter snapshotImages: whether snapshot images are built in the background
    ///   (``SnapshotImages``).
    public static func connect(
        url: String, maxConnections: Int = 20, recordCache: Int = ServerConfiguration.defaultRecordCache,
        snapshotImages: Bool = true, logger: Logger
    ) async throws -> PostgresServerStore {
        try await connect(
            url: url, maxConnections: maxConnections, recordCache: recordCache, snapshotImages: snapshotImages,
            logger: logger, options: Options())
    }

    static func connect(
        url: String, maxConnections: Int, recordCache: Int = ServerConfiguration.defaultRecordCache,
        snapshotImages: Bool = true, logger: Logger, options: Options
    ) async throws -> PostgresServerStore {
        var configuration = try PostgresURL.configuration(url)
        configuration.options.maximumConnections = maxConnections
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        // The pool runs as the first of the store's services; the store leases its first connection
        // once it has started (a lease made before `run()` began logs a warning).
        let (started, pool) = PoolService.starting(client)
        let services = StoreServices([pool], logger: logger)
        for await _ in started {}
        do {
            let epoch = try await Self.prepare(client, logger: logger)
            let store = PostgresServerStore(
                client: client, services: services, epoch: epoch, logger: logger, options: options,
                records: RecordCache(capacity: recordCache),
                images: SnapshotImages.postgres(
                    client: client, background: snapshotImages, logger: logger, observer: options.observer))
            // After the migrations: the builder reads the tables they made.
            if store.images.background { await services.add(store.images) }
            return store
        } catch {
            await services.shutdown()
            throw Self.storeError(error, "cannot open the PostgreSQL database")
        }
    }

    /// postgres-nio's client as the store's first service, saying when it starts.
    private struct PoolService: Service {
        let client: PostgresClient
        let started: AsyncStream<Void>.Continuation

        static func starting(_ client: PostgresClient) -> (AsyncStream<Void>, PoolService) {
            let (stream, continuation) = AsyncStream<Void>.makeStream()
            return (stream, PoolService(client: client, started: continuation))
        }

        func run() async {
            started.finish()
            await client.run()
        }
    }

    private init(
        client: PostgresClient, services: StoreServices, epoch: String, logger: Logger, options: Options,
        records: RecordCache, images: SnapshotImages
    ) {
        self.client = client
        self.services = services
        self.epoch = epoch
        self.logger = logger
        self.options = options
        self.records = records
        self.images = images
        let instance = self.instance
        let engine = PostgresPushEngine(
            client: client, logger: logger, cache: records, images: images, epoch: epoch, observer: options.observer,
            instance: instance, contention: .init())
        let locked = LockedGroups(
            wanted: { [contention = engine.contention] in !options.checksBesideWriter || contention.contended },
            run: { jobs in
                let results = try await Self.push(
                    jobs, client: client, logger: logger, epoch: epoch, options: options, instance: instance,
                    cache: records)
                // Committed: the records' images can be built.
                if results.contains(where: { $0.counts.accepted > 0 }) { images.commitFinished() }
                return results
            })
        pushes = PushLine(engine: engine, locked: locked, observer: options.observer)
    }

    /// Stops the image builder (a running batch finishes), then closes the connections.
    public func close() async {
        await services.shutdown()
    }

    /// Builds every missing or stale snapshot image now (the store does it by itself in the
    /// background, paced): for tests and tools that need the images current.
    public func buildSnapshotImages() async throws {
        do { try await images.catchUp() } catch { throw Self.storeError(error, "building snapshot images failed") }
    }

    /// Waits until the background builder of snapshot images has caught up with every commit so far.
    public func snapshotImagesIdle() async { await images.idle() }

    /// Calls `observer` with how many log positions the snapshot image builder is behind the
    /// log's head (0 once it has caught up), after each of its batches.
    public func observeSnapshotImages(_ observer: @escaping @Sendable (Int) -> Void) {
        images.observe(observer)
    }

    /// Applies the migrations not yet applied, each in its own transaction, and makes the epoch.
    static func prepare(_ client: PostgresClient, logger: Logger) async throws -> String {
        try await client.withConnection { connection in
            try await transaction(connection, logger: logger) { connection in
                // One instance migrates; the others wait here, then find nothing left to do.
                try await connection.query("SELECT pg_advisory_xact_lock(7243017)", logger: logger)
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS schema_migration (name text PRIMARY KEY, applied_at bigint NOT NULL)",
                    logger: logger)
                let applied = Set(
                    try await connection.query("SELECT name FROM schema_migration", logger: logger).collect().map {
                        try $0.decode(String.self)
                    })
                for migration in PostgresMigrations.all where !applied.contains(migration.name) {
                    for statement in statements(of: migration.sql) {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query(
                        "INSERT INTO schema_migration (name, applied_at) VALUES (\(migration.name), \(StoreSupport.nowMillis()))",
                        logger: logger)
                }
                try await connection.query(
                    "INSERT INTO server_meta (key, value) VALUES ('epoch', \(ReplicaID.random().description)) ON CONFLICT (key) DO NOTHING",
                    logger: logger)
                return try await connection.one(
                    "SELECT value FROM server_meta WHERE key = 'epoch'", String.self, logger)
            }
        }
    }

    /// The statements of a migration file: split at semicolons that end a line, comments dropped.
    static func statements(of sql: String) -> [String] {
        let lines = sql.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.trimmingCharacters(in: .whitespaces).hasPrefix("--") ? "" : String(line)
        }
        return lines.joined(separator: "\n").components(separatedBy: ";\n").map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines).trimmingCharacters(in: CharacterSet(charactersIn: ";"))
        }.filter { !$0.isEmpty }
    }

    /// Gives the database a new epoch: run after restoring it from a backup, so every replica
    /// resets instead of missing changes. Restart the instances afterwards.
    public func markRestored() async throws {
        try await write { connection, logger in
            try await connection.query(
                "UPDATE server_meta SET value = \(ReplicaID.random().description) WHERE key = 'epoch'", logger: logger)
        }
    }

    /// The access-token signing key all instances share: made by the first instance that asks.
    public func signingKey(orMake make: () throws -> (kid: String, pem: String)) async throws -> (
        kid: String, pem: String
    ) {
        let made = try make()
        let text = CanonicalJSON.string(["kid": .string(made.kid), "pem": .string(made.pem)])
        let stored = try await write { connection, logger in
            try await connection.query(
                "INSERT INTO server_meta (key, value) VALUES ('signing_key', \(text)) ON CONFLICT (key) DO NOTHING",
                logger: logger)
            return try await connection.one(
                "SELECT value FROM server_meta WHERE key = 'signing_key'", String.self, logger)
        }
        guard let value = try? CanonicalJSON.decode(Data(stored.utf8)), let kid = value["kid"]?.stringValue,
            let pem = value["pem"]?.stringValue
        else { throw StoreError(.corrupt, "the stored signing key lacks kid or pem") }
        return (kid, pem)
    }

    // MARK: Transactions

    static func transaction<T>(
        _ connection: PostgresConnection, readOnly: Bool = false, logger: Logger,
        _ body: @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await connection.query(
            readOnly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN", logger: logger)
        do {
            let value = try await body(connection)
            try await connection.query("COMMIT", logger: logger)
            return value
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }

    /// One read transaction: a repeatable-read snapshot, so several statements see one state.
    func read<T: Sendable>(_ body: @Sendable @escaping (PostgresConnection, Logger) async throws -> T) async throws -> T
    {
        try await Self.read(client: client, logger: logger, body)
    }

    static func read<T: Sendable>(
        client: PostgresClient, logger: Logger,
        _ body: @Sendable @escaping (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        do {
            return try await client.withConnection { connection in
                try await Self.transaction(connection, readOnly: true, logger: logger) { try await body($0, logger) }
            }
        } catch {
            throw Self.storeError(error, "a read failed")
        }
    }

    /// One write transaction (read committed).
    func write<T: Sendable>(_ body: @Sendable @escaping (PostgresConnection, Logger) async throws -> T) async throws
        -> T
    {
        try await Self.write(client: client, logger: logger, body)
    }

    static func write<T: Sendable>(
        client: PostgresClient, logger: Logger,
        _ body: @Sendable @escaping (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        do {
            return try await client.withConnection { connection in
                try await Self.transaction(connection, logger: logger) { try await body($0, logger) }
            }
        } catch {
            throw Self.storeError(error, "a write failed")
        }
    }

    /// The store's own errors and sync errors pass; the driver's are wrapped (their text never
    /// includes the statement's values, so nothing secret reaches a log).
    static func storeError(_ error: any Error, _ message: String) -> any Error {
        switch error {
        case is StoreError, is SyncError: return error
        default: return StoreError(.database, message, underlying: error)
        }
    }

    // MARK: Providers and principals

    public func createProvider(id: ProviderID, name: String) async throws {
        try await write { connection, logger in
            let inserted = try await connection.query(
                "INSERT INTO provider (id, name, created_at) VALUES (\(id.rawValue), \(name), \(StoreSupport.nowMillis())) ON CONFLICT (id) DO NOTHING RETURNING id",
                logger: logger
            ).collect()
            guard !inserted.isEmpty else { throw StoreError(.conflict, "provider \(id) exists") }
        }
    }

    public func createPrincipal(_ principal: Principal) async throws {
        try await write { connection, logger in
            guard
                try await connection.exists(
                    "SELECT 1 FROM provider WHERE id = \(principal.provider.rawValue)", logger)
            else { throw StoreError(.notFound, "no provider \(principal.provider)") }
            let inserted = try await connection.query(
                """
                INSERT INTO principal (id, provider_id, role, display_name, created_at)
                VALUES (\(principal.id.rawValue), \(principal.provider.rawValue), \(principal.role.rawValue),
                    \(principal.displayName), \(StoreSupport.nowMillis()))
                ON CONFLICT (id) DO NOTHING RETURNING id
                """, logger: logger
            ).collect()
            guard !inserted.isEmpty else { throw StoreError(.conflict, "principal \(principal.id) exists") }
            try await Self.saveTags(principal, connection, logger)
        }
    }

    public func updateRouting(of id: PrincipalID, skills: [String], queues: [String]) async throws {
        try await write { connection, logger in
            guard var principal = try await Self.principal(id, connection, logger) else {
                throw StoreError(.notFound, "no principal \(id)")
            }
            principal.skills = skills
            principal.queues = queues
            try await connection.query("DELETE FROM principal_tag WHERE principal_id = \(id.rawValue)", logger: logger)
            try await Self.saveTags(principal, connection, logger)
        }
    }

    static func saveTags(_ principal: Principal, _ connection: PostgresConnection, _ logger: Logger) async throws {
        let tags = Array(StoreSupport.storedTags(of: principal))
        try await connection.query(
            "INSERT INTO principal_tag (principal_id, tag) SELECT \(principal.id.rawValue), unnest(\(tags)::text[])",
            logger: logger)
    }

    public func principal(_ id: PrincipalID) async throws -> Principal? {
        try await read { connection, logger in try await Self.principal(id, connection, logger) }
    }

    static func principal(_ id: PrincipalID, _ connection: PostgresConnection, _ logger: Logger) async throws
        -> Principal?
    {
        let rows = try await connection.query(
            """
            SELECT provider_id, role, display_name,
                ARRAY(SELECT tag FROM principal_tag WHERE principal_id = principal.id)
            FROM principal WHERE id = \(id.rawValue)
            """, logger: logger
        ).collect().map { try $0.decode((String, String, String, [String]).self) }
        guard let (provider, role, name, tags) = rows.first else { return nil }
        return StoreSupport.principal(id: id, provider: provider, role: role, displayName: name, tags: tags)
    }

    // MARK: Enrolment and devices

    public func issueEnrolmentCode(for principal: PrincipalID, lifetime: Int64) async throws -> String {
        let issued = DevicePolicy.issueCode(lifetime: lifetime, now: StoreSupport.nowMillis())
        try await write { connection, logger in
            guard try await connection.exists("SELECT 1 FROM principal WHERE id = \(principal.rawValue)", logger)
            else { throw DevicePolicy.noPrincipal(principal) }
            try await connection.query(
                """
                INSERT INTO enrolment_code (code_hash, principal_id, expires_at)
                VALUES (\(issued.hash), \(principal.rawValue), \(issued.expiresAt))
                """, logger: logger)
        }
        return issued.code
    }

    public func enrol(code: String, deviceName: String) async throws -> Enrolment {
        let now = StoreSupport.nowMillis()
        let hash = DevicePolicy.lookupHash(ofPresented: code)
        return try await write { connection, logger in
            // The row lock orders two instances racing for the code: the second sees it spent.
            let stored = try await connection.query(
                """
                SELECT principal_id, expires_at, used_at FROM enrolment_code
                WHERE code_hash = \(hash) FOR UPDATE
                """, logger: logger
            ).collect().first.map { try $0.decode((String, Int64, Int64?).self) }
            guard let (id, expiresAt, usedAt) = stored,
                DevicePolicy.spendable(usedAt: usedAt, expiresAt: expiresAt, now: now),
                let principal = try await Self.principal(PrincipalID(id), connection, logger)
            else { throw DevicePolicy.invalidCode }
            try await connection.query(
                """
                UPDATE enrolment_code SET used_at = \(now)
                WHERE code_hash = \(hash)
                """, logger: logger)
            let device = DevicePolicy.newDevice(named: deviceName)
            try await Self.insert(device, of: principal.id, connection, logger)
            return device.enrolment(of: principal)
        }
    }

    static func insert(
        _ device: DevicePolicy.NewDevice, of principal: PrincipalID, _ connection: PostgresConnection,
        _ logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO device (replica_id, principal_id, name, created_at, refresh_hash)
            VALUES (\(device.replica.description), \(principal.rawValue), \(device.name),
                \(StoreSupport.nowMillis()), \(device.refreshHash))
            """, logger: logger)
    }

    public func enrolDevices(for principal: PrincipalID, count: Int, name: String) async throws -> [Enrolment] {
        try await write { connection, logger in
            guard let owner = try await Self.principal(principal, connection, logger) else {
                throw DevicePolicy.noPrincipal(principal)
            }
            var enrolments: [Enrolment] = []
            for _ in 0..<count {
                let device = DevicePolicy.newDevice(named: name)
                try await Self.insert(device, of: principal, connection, logger)
                enrolments.append(device.enrolment(of: owner))
            }
            return enrolments
        }
    }

    /// Rotates a refresh token by ``RefreshTokenPolicy``.
    public func rotateRefreshToken(_ token: String) async throws -> (
        refreshToken: String, replica: ReplicaID, principal: Principal
    ) {
        let replica = try StoreSupport.replica(ofRefreshToken: token)
        let outcome: Result<(String, Principal), SyncError> = try await write { connection, logger in
            let now = StoreSupport.nowMillis()
            // The row lock orders two instances rotating the same token.
            let state = try await connection.query(
                """
                SELECT principal_id, revoked_at, refresh_hash, previous_refresh_hash, rotated_at, grace_used_at
                FROM device WHERE replica_id = \(replica.description) FOR UPDATE
                """, logger: logger
            ).collect().first.map { row in
                let (principal, revokedAt, current, previous, rotatedAt, graceUsedAt) = try row.decode(
                    (String, Int64?, Data, Data?, Int64?, Int64?).self)
                return RefreshTokenPolicy.State(
                    principal: PrincipalID(principal), revoked: revokedAt != nil, current: current, previous: previous,
                    rotatedAt: rotatedAt, graceUsed: graceUsedAt != nil)
            }
            let decision = RefreshTokenPolicy.decide(state, token: token, replica: replica, now: now)
            switch decision {
            case .refuse(let error):
                return .failure(error)
            case .revoke(let error):
                try await connection.query(
                    "UPDATE device SET revoked_at = \(now) WHERE replica_id = \(replica.description)", logger: logger)
                return .failure(error)
            case .rotate(let next), .graceRetry(let next):
                guard let state, let principal = try await Self.principal(state.principal, connection, logger) else {
                    return .failure(RefreshTokenPolicy.principalGone)
                }
                if case .rotate = decision {
                    try await connection.query(
                        """
                        UPDATE device SET previous_refresh_hash = refresh_hash, refresh_hash = \(StoreSupport.hash(next)),
                            rotated_at = \(now), grace_used_at = NULL, last_seen_at = \(now)
                        WHERE replica_id = \(replica.description)
                        """, logger: logger)
                } else {
                    try await connection.query(
                        """
                        UPDATE device SET refresh_hash = \(StoreSupport.hash(next)), grace_used_at = \(now),
                            last_seen_at = \(now)
                        WHERE replica_id = \(replica.description)
                        """, logger: logger)
                }
                return .success((next, principal))
            }
        }
        let (next, principal) = try outcome.get()
        return (next, replica, principal)
    }

    public func devices(of principal: PrincipalID) async throws -> [Device] {
        try await read { connection, logger in
            try await connection.query(
                """
                SELECT replica_id, name, created_at, last_seen_at, revoked_at FROM device
                WHERE principal_id = \(principal.rawValue) ORDER BY created_at
                """, logger: logger
            ).collect().map { try $0.decode((String, String, Int64, Int64?, Int64?).self) }.compactMap { row in
                ReplicaID(row.0).map {
                    Device(replica: $0, name: row.1, createdAt: row.2, lastSeenAt: row.3, revoked: row.4 != nil)
                }
            }
        }
    }

    public func revokeDevice(_ replica: ReplicaID, owner: PrincipalID?) async throws {
        try await write { connection, logger in
            let owners = try await connection.query(
                "SELECT principal_id FROM device WHERE replica_id = \(replica.description)", logger: logger
            ).collect().map { try $0.decode(String.self) }
            try DevicePolicy.checkRevocation(storedOwner: owners.first, by: owner)
            try await connection.query(
                """
                UPDATE device SET revoked_at = COALESCE(revoked_at, \(StoreSupport.nowMillis()))
                WHERE replica_id = \(replica.description)
                """, logger: logger)
        }
    }

    public func activePrincipal(_ principal: PrincipalID, device replica: ReplicaID) async throws -> Principal? {
        try await read { connection, logger in
            guard
                try await connection.exists(
                    """
                    SELECT 1 FROM device WHERE replica_id = \(replica.description)
                        AND principal_id = \(principal.rawValue) AND revoked_at IS NULL
                    """, logger)
            else { return nil }
            return try await Self.principal(principal, connection, logger)
        }
    }
}

extension PostgresConnection {
    /// The first column of the one row a query returns.
    func one<T: PostgresDecodable>(_ query: PostgresQuery, _ type: T.Type, _ logger: Logger) async throws -> T {
        guard let value = try await self.query(query, logger: logger).collect().first?.decode(T.self) else {
            throw StoreError(.corrupt, "a query that returns one row returned none")
        }
        return value
    }

    /// Whether a query returns a row.
    func exists(_ query: PostgresQuery, _ logger: Logger) async throws -> Bool {
        try await !self.query(query, logger: logger).collect().isEmpty
    }
}
