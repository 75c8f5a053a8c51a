import ConciergeCore
import Crypto
import Foundation
import GRDB
import Logging

/// The embedded storage engine: one SQLite file in WAL mode, through GRDB.
///
/// Push batches are checked and merged beside the writer, in groups of those that arrive while one
/// is being written, and each group is written in one transaction while the next is checked
/// (``SQLitePushEngine``). Every check of a set (outcome, version, stamps, schema, authorization,
/// merge) runs before its rows are written, so a refused set writes nothing; a database error
/// rolls the whole batch back and the client sends it again. A crash
/// loses nothing acknowledged: outcomes are only sent after the commit. SQLite has one writer at a
/// time, so log sequence numbers commit in order and a reader following the log never skips one.
public final class SQLiteServerStore: ServerStore {
    let pool: DatabasePool
    /// The server epoch; a new database, or one restored and marked so, gets a new one.
    public let epoch: String
    let logger: Logger
    let checkpointer: WALCheckpointer
    /// Pushes that arrive while one is being written share the next transaction.
    let pushes: PushLine<SQLitePushEngine>
    /// The writer's decoded copy of recent records.
    let records: RecordCache
    /// Builds the records' snapshot images in the background.
    let images: SnapshotImages
    /// The checkpointer and the image builder, running while the store is open.
    private let services: StoreServices

    /// Opens (creating when needed) the database at `path` and applies the migrations.
    /// - Parameters:
    ///   - recordCache: about how many records the writer keeps decoded (0: none).
    ///   - snapshotImages: whether snapshot images are built in the background (``SnapshotImages``).
    public convenience init(
        path: String, recordCache: Int = ServerConfiguration.defaultRecordCache, snapshotImages: Bool = true,
        logger: Logger
    ) throws {
        try self.init(
            path: path, recordCache: recordCache, snapshotImages: snapshotImages, observer: NoObserver(),
            logger: logger)
    }

    /// - Parameter observer: a test's, watching the pushes (``StoreObserver``).
    init(
        path: String, recordCache: Int, snapshotImages: Bool = true, observer: any StoreObserver, logger: Logger
    ) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // FULL: an acknowledged set survives power loss too, not only a killed process. A group
            // of push batches is one transaction, so the fsync is paid once per group.
            try db.cachedExecute(sql: "PRAGMA synchronous = FULL")
            // Reads map the file instead of copying every page through a read() call: snapshot
            // pages read many rows (the operating system's page cache is shared by the pool).
            try db.execute(sql: "PRAGMA mmap_size = 268435456")
            // The log is copied back by a connection of its own (``WALCheckpointer``); the writer's
            // automatic checkpoint stays, at a higher threshold, to start the log over.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(WALCheckpointer.writerThreshold)")
            if !db.configuration.readonly {
                // The writer keeps a transaction's pages in memory (64 MB, where the default is 2 MB):
                // a group of pushes dirties more pages than the default holds, and spilling them
                // writes to the log in the middle of the transaction.
                try db.execute(sql: "PRAGMA cache_size = -65536")
            }
        }
        do {
            try Self.restrictFileModes(path)
            pool = try DatabasePool(path: path, configuration: configuration)
            // Again on the writer: the pool turns the log on after `prepareDatabase` and sets
            // NORMAL there (which syncs only at checkpoints, so a commit may not survive power loss).
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            var migrator = DatabaseMigrator()
            for migration in SQLiteMigrations.all {
                migrator.registerMigration(migration.name) { db in try db.execute(sql: migration.sql) }
            }
            try migrator.migrate(pool)
            epoch = try pool.write { db in
                if let epoch = try String.fetchOne(
                    db.cachedStatement(sql: "SELECT value FROM server_meta WHERE key = 'epoch'"))
                {
                    return epoch
                }
                let epoch = ReplicaID.random().description
                try db.cachedExecute(
                    sql: "INSERT INTO server_meta (key, value) VALUES ('epoch', ?)", arguments: [epoch])
                return epoch
            }
            checkpointer = try WALCheckpointer(path: path, logger: logger)
            let cache = RecordCache(capacity: recordCache)
            // From here on, a commit by another connection drops the cache (``SQLitePushEngine``).
            _ = try pool.writeWithoutTransaction { db in try cache.checkDataVersion(in: db) }
            records = cache
            images = SnapshotImages.sqlite(
                pool: pool, checkpointer: checkpointer, background: snapshotImages, logger: logger)
            pushes = PushLine(
                engine: SQLitePushEngine(
                    pool: pool, checkpointer: checkpointer, cache: records, images: images, epoch: epoch,
                    observer: observer),
                observer: observer)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.database, "cannot open the database at \(path)", underlying: error)
        }
        self.logger = logger
        services = StoreServices([checkpointer] + (images.background ? [images] : []), logger: logger)
    }

    /// The database and its `-wal` and `-shm` files are readable by the server's user only (0600),
    /// whatever the umask: a new database file is made so before SQLite opens it (SQLite gives
    /// its log files the database file's mode), and existing files are tightened.
    static func restrictFileModes(_ path: String) throws {
        let files = FileManager.default
        if !files.fileExists(atPath: path) {
            guard files.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw StoreError(.database, "cannot create the database at \(path)")
            }
        }
        for file in [path, path + "-wal", path + "-shm"] where files.fileExists(atPath: file) {
            try files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        }
    }

    /// Writes a consistent copy of the live database to `path` (SQLite's online backup), mode 0600.
    /// - Parameter replacing: whether an existing file at `path` may be overwritten.
    /// - Throws: ``StoreError`` `conflict` when `path` exists and `replacing` is `false`.
    public func backup(to path: String, replacing: Bool = false) throws {
        let files = FileManager.default
        if files.fileExists(atPath: path) {
            guard replacing else {
                throw StoreError(.conflict, "\(path) exists; pass --force to overwrite it")
            }
            try files.removeItem(atPath: path)
        }
        do {
            guard files.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw StoreError(.database, "cannot create \(path)")
            }
            let target = try DatabaseQueue(path: path)
            try pool.backup(to: target)
            try target.close()
        } catch {
            throw StoreError(.database, "cannot back up to \(path)", underlying: error)
        }
    }

    /// Gives the database a new epoch: run after restoring it from a backup, so every replica
    /// resets instead of missing changes.
    public static func markRestored(path: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.cachedExecute(
                sql: "UPDATE server_meta SET value = ? WHERE key = 'epoch'", arguments: [ReplicaID.random().description]
            )
        }
    }

    func read<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        do { return try await pool.read(body) } catch { throw Self.storeError(error, "a read failed") }
    }

    func write<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        try await Self.write(pool, checkpointer, body)
    }

    /// One write transaction (errors other than the store's and sync errors become `database`).
    static func write<T: Sendable>(
        _ pool: DatabasePool, _ checkpointer: WALCheckpointer, _ body: @Sendable @escaping (Database) throws -> T
    ) async throws -> T {
        defer { checkpointer.commitFinished() }
        do { return try await pool.write(body) } catch { throw storeError(error, "a write failed") }
    }

    /// The store's and sync errors as they are; any other becomes `database`, with `message`.
    static func storeError(_ error: any Error, _ message: String) -> any Error {
        switch error {
        case is StoreError, is SyncError: error
        default: StoreError(.database, message, underlying: error)
        }
    }

    public typealias Caller = ConciergeServer.Caller
    public typealias Enrolment = ConciergeServer.Enrolment

    /// Stops the image builder and the checkpointer, letting a running batch or checkpoint finish;
    /// SQLite checkpoints the rest when the last connection closes.
    public func close() async {
        await services.shutdown()
    }

    /// Builds every missing or stale snapshot image now (the store does it by itself in the
    /// background, paced): for tests and tools that need the images current.
    public func buildSnapshotImages() async throws {
        do { try await images.catchUp() } catch let error as StoreError { throw error } catch {
            throw StoreError(.database, "building snapshot images failed", underlying: error)
        }
    }

    /// Waits until the background builder of snapshot images has caught up with every commit so far.
    public func snapshotImagesIdle() async { await images.idle() }

    /// Calls `observer` with how many log positions the snapshot image builder is behind the
    /// log's head (0 once it has caught up), after each of its batches.
    public func observeSnapshotImages(_ observer: @escaping @Sendable (Int) -> Void) {
        images.observe(observer)
    }

    // MARK: Providers and principals

    public func createProvider(id: ProviderID, name: String) async throws {
        try await write { db in
            guard
                try !Bool.fetchOne(
                    db.cachedStatement(sql: "SELECT EXISTS(SELECT 1 FROM provider WHERE id = ?)"),
                    arguments: [id.rawValue])!
            else {
                throw StoreError(.conflict, "provider \(id) exists")
            }
            try db.cachedExecute(
                sql: "INSERT INTO provider (id, name, created_at) VALUES (?, ?, ?)",
                arguments: [id.rawValue, name, StoreSupport.nowMillis()])
        }
    }

    public func createPrincipal(_ principal: Principal) async throws {
        try await write { db in
            guard
                try Bool.fetchOne(
                    db.cachedStatement(sql: "SELECT EXISTS(SELECT 1 FROM provider WHERE id = ?)"),
                    arguments: [principal.provider.rawValue])!
            else {
                throw StoreError(.notFound, "no provider \(principal.provider)")
            }
            guard
                try !Bool.fetchOne(
                    db.cachedStatement(sql: "SELECT EXISTS(SELECT 1 FROM principal WHERE id = ?)"),
                    arguments: [principal.id.rawValue])!
            else {
                throw StoreError(.conflict, "principal \(principal.id) exists")
            }
            try db.cachedExecute(
                sql: "INSERT INTO principal (id, provider_id, role, display_name, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [
                    principal.id.rawValue, principal.provider.rawValue, principal.role.rawValue, principal.displayName,
                    StoreSupport.nowMillis(),
                ])
            try Self.saveTags(principal, in: db)
        }
    }

    /// Changes a principal's skills and queues (and so what they see from now on).
    public func updateRouting(of id: PrincipalID, skills: [String], queues: [String]) async throws {
        try await write { db in
            guard var principal = try Self.principal(id, in: db) else {
                throw StoreError(.notFound, "no principal \(id)")
            }
            principal.skills = skills
            principal.queues = queues
            try db.cachedExecute(sql: "DELETE FROM principal_tag WHERE principal_id = ?", arguments: [id.rawValue])
            try Self.saveTags(principal, in: db)
        }
    }

    static func saveTags(_ principal: Principal, in db: Database) throws {
        for tag in StoreSupport.storedTags(of: principal) {
            try db.cachedExecute(
                sql: "INSERT INTO principal_tag (principal_id, tag) VALUES (?, ?)",
                arguments: [principal.id.rawValue, tag])
        }
    }

    public func principal(_ id: PrincipalID) async throws -> Principal? {
        try await read { db in try Self.principal(id, in: db) }
    }

    static func principal(_ id: PrincipalID, in db: Database) throws -> Principal? {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT provider_id, role, display_name FROM principal WHERE id = ?"),
                arguments: [id.rawValue])
        else { return nil }
        let tags = try String.fetchAll(
            db.cachedStatement(sql: "SELECT tag FROM principal_tag WHERE principal_id = ?"), arguments: [id.rawValue])
        return StoreSupport.principal(
            id: id, provider: row["provider_id"], role: row["role"], displayName: row["display_name"], tags: tags)
    }

    // MARK: Enrolment and devices

    /// Issues a one-time enrolment code for `principal`, valid for `lifetime` seconds.
    public func issueEnrolmentCode(for principal: PrincipalID, lifetime: Int64) async throws -> String {
        let issued = DevicePolicy.issueCode(lifetime: lifetime, now: StoreSupport.nowMillis())
        try await write { db in
            guard try Self.principal(principal, in: db) != nil else { throw DevicePolicy.noPrincipal(principal) }
            try db.cachedExecute(
                sql: "INSERT INTO enrolment_code (code_hash, principal_id, expires_at) VALUES (?, ?, ?)",
                arguments: [issued.hash, principal.rawValue, issued.expiresAt])
        }
        return issued.code
    }

    /// Uses a one-time code: mints the replica id and the first refresh token.
    /// - Throws: ``SyncError`` `invalidCode` when the code is unknown, used or expired.
    public func enrol(code: String, deviceName: String) async throws -> Enrolment {
        let hash = DevicePolicy.lookupHash(ofPresented: code)
        return try await write { db in
            let now = StoreSupport.nowMillis()
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(
                        sql: "SELECT principal_id, expires_at, used_at FROM enrolment_code WHERE code_hash = ?"),
                    arguments: [hash]),
                DevicePolicy.spendable(usedAt: row["used_at"], expiresAt: row["expires_at"], now: now),
                let principal = try Self.principal(PrincipalID(row["principal_id"]), in: db)
            else { throw DevicePolicy.invalidCode }
            try db.cachedExecute(
                sql: "UPDATE enrolment_code SET used_at = ? WHERE code_hash = ?", arguments: [now, hash])
            let device = DevicePolicy.newDevice(named: deviceName)
            try Self.insert(device, of: principal.id, in: db)
            return device.enrolment(of: principal)
        }
    }

    /// Enrols `count` devices for `principal` in one transaction, without codes: for provisioning
    /// fleets of managed devices and for load tests.
    public func enrolDevices(for principal: PrincipalID, count: Int, name: String) async throws -> [Enrolment] {
        try await write { db in
            guard let owner = try Self.principal(principal, in: db) else { throw DevicePolicy.noPrincipal(principal) }
            return try (0..<count).map { _ in
                let device = DevicePolicy.newDevice(named: name)
                try Self.insert(device, of: principal, in: db)
                return device.enrolment(of: owner)
            }
        }
    }

    private static func insert(_ device: DevicePolicy.NewDevice, of principal: PrincipalID, in db: Database) throws {
        try db.cachedExecute(
            sql: "INSERT INTO device (replica_id, principal_id, name, created_at, refresh_hash) VALUES (?, ?, ?, ?, ?)",
            arguments: [
                device.replica.description, principal.rawValue, device.name, StoreSupport.nowMillis(),
                device.refreshHash,
            ])
    }

    /// Rotates a refresh token by ``RefreshTokenPolicy``.
    /// - Returns: the new refresh token and the device's principal.
    public func rotateRefreshToken(_ token: String) async throws -> (
        refreshToken: String, replica: ReplicaID, principal: Principal
    ) {
        let replica = try StoreSupport.replica(ofRefreshToken: token)
        let outcome: Result<(String, Principal), SyncError> = try await write { db in
            let now = StoreSupport.nowMillis()
            let state = try Row.fetchOne(
                db.cachedStatement(
                    sql:
                        "SELECT principal_id, revoked_at, refresh_hash, previous_refresh_hash, rotated_at, grace_used_at FROM device WHERE replica_id = ?"
                ),
                arguments: [replica.description]
            ).map { row in
                RefreshTokenPolicy.State(
                    principal: PrincipalID(row["principal_id"] as String), revoked: row["revoked_at"] as Int64? != nil,
                    current: row["refresh_hash"], previous: row["previous_refresh_hash"], rotatedAt: row["rotated_at"],
                    graceUsed: row["grace_used_at"] as Int64? != nil)
            }
            let decision = RefreshTokenPolicy.decide(state, token: token, replica: replica, now: now)
            switch decision {
            case .refuse(let error):
                return .failure(error)
            case .revoke(let error):
                try db.cachedExecute(
                    sql: "UPDATE device SET revoked_at = ? WHERE replica_id = ?", arguments: [now, replica.description])
                return .failure(error)
            case .rotate(let next), .graceRetry(let next):
                guard let state, let principal = try Self.principal(state.principal, in: db) else {
                    return .failure(RefreshTokenPolicy.principalGone)
                }
                if case .rotate = decision {
                    try db.cachedExecute(
                        sql: """
                            UPDATE device SET previous_refresh_hash = refresh_hash, refresh_hash = ?, rotated_at = ?,
                                grace_used_at = NULL, last_seen_at = ? WHERE replica_id = ?
                            """,
                        arguments: [StoreSupport.hash(next), now, now, replica.description])
                } else {
                    try db.cachedExecute(
                        sql:
                            "UPDATE device SET refresh_hash = ?, grace_used_at = ?, last_seen_at = ? WHERE replica_id = ?",
                        arguments: [StoreSupport.hash(next), now, now, replica.description])
                }
                return .success((next, principal))
            }
        }
        let (next, principal) = try outcome.get()
        return (next, replica, principal)
    }

    public func devices(of principal: PrincipalID) async throws -> [Device] {
        try await read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql:
                        "SELECT replica_id, name, created_at, last_seen_at, revoked_at FROM device WHERE principal_id = ? ORDER BY created_at"
                ),
                arguments: [principal.rawValue]
            ).map { row in
                Device(
                    replica: ReplicaID(row["replica_id"] as String)!, name: row["name"], createdAt: row["created_at"],
                    lastSeenAt: row["last_seen_at"], revoked: row["revoked_at"] as Int64? != nil)
            }
        }
    }

    /// Revokes a device; with `owner`, only if it belongs to that principal.
    public func revokeDevice(_ replica: ReplicaID, owner: PrincipalID?) async throws {
        try await write { db in
            try DevicePolicy.checkRevocation(
                storedOwner: try String.fetchOne(
                    db.cachedStatement(sql: "SELECT principal_id FROM device WHERE replica_id = ?"),
                    arguments: [replica.description]),
                by: owner)
            try db.cachedExecute(
                sql: "UPDATE device SET revoked_at = COALESCE(revoked_at, ?) WHERE replica_id = ?",
                arguments: [StoreSupport.nowMillis(), replica.description])
        }
    }

    /// The principal behind an access token, in one read: `nil` unless the device exists, is not
    /// revoked, and belongs to `principal`.
    public func activePrincipal(_ principal: PrincipalID, device replica: ReplicaID) async throws -> Principal? {
        try await read { db in
            guard
                try Bool.fetchOne(
                    db.cachedStatement(
                        sql:
                            "SELECT EXISTS(SELECT 1 FROM device WHERE replica_id = ? AND principal_id = ? AND revoked_at IS NULL)"
                    ),
                    arguments: [replica.description, principal.rawValue])!
            else { return nil }
            return try Self.principal(principal, in: db)
        }
    }
}
