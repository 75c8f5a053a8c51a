import ConciergeCore
import Foundation
import GRDB

/// One account's local replica: a SQLite file (WAL mode, synchronous FULL, mode 0600) holding the confirmed state,
/// the outbox, the rejected sets, the cursor and clock, and the account's tokens.
///
/// It is the core's ``ReplicaStore``: every `write` is one SQLite transaction, so a user action or
/// a pull commits whole or not at all, and a crash between a push and its acknowledgement leaves
/// the set in the outbox to be sent again.
///
/// A file that is not a Concierge replica (another program's database, a damaged header, any
/// other file) is refused with ``ReplicaFileError/Code-swift.struct/foreignFile`` before anything
/// is written to it.
public final class ReplicaFile: ReplicaStore, Sendable {
    /// `PRAGMA application_id` of every replica file: "CONC".
    public static let applicationID: Int32 = 0x434F_4E43

    public let path: String
    let pool: DatabaseQueue

    private init(path: String, pool: DatabaseQueue) {
        self.path = path
        self.pool = pool
    }

    // MARK: Opening

    /// Creates the replica file of a newly enrolled device. Refuses to touch an existing file.
    public static func create(path: String, session: Session, label: String, nowMillis: Int64) throws -> ReplicaFile {
        let descriptor = Foundation.open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST { throw ReplicaFileError(.exists, "\(path) exists already; it was left untouched") }
            throw ReplicaFileError(.database, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        Foundation.close(descriptor)
        do {
            let pool = try DatabaseQueue(path: path, configuration: configuration())
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA application_id = \(applicationID)")
                try db.execute(sql: "PRAGMA journal_mode = WAL")
            }
            try migrator.migrate(pool)
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO account (id, server, replica, principal, provider, role, refresh_token,
                            access_token, label, created_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        session.server.absoluteString, session.replica.description, session.principal.rawValue,
                        session.provider.rawValue, session.role.rawValue, session.refreshToken,
                        session.accessToken, label, nowMillis,
                    ])
                try db.execute(
                    sql: """
                        INSERT INTO replica_meta (id, replica, principal, role, cursor, clock, next_seq)
                        VALUES (1, ?, ?, ?, NULL, 0, 1)
                        """,
                    arguments: [session.replica.description, session.principal.rawValue, session.role.rawValue])
            }
            return ReplicaFile(path: path, pool: pool)
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw ReplicaFileError(.database, "cannot create the replica file \(path)", underlying: error)
        }
    }

    /// Opens an existing replica file, applying newer migrations of this build.
    /// - Throws: ``ReplicaFileError`` `foreignFile` for anything that is not a replica file
    ///   (untouched), `newerVersion` for a file of a newer build, `corrupt` for a damaged one.
    public static func open(path: String) throws -> ReplicaFile {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ReplicaFileError(.database, "\(path) does not exist")
        }
        // Look before writing: a read-only connection checks the file is ours.
        let needsMigration: Bool
        do {
            var readOnly = Configuration()
            readOnly.readonly = true
            let queue = try DatabaseQueue(path: path, configuration: readOnly)
            let (identifier, applied) = try queue.read { db in
                (
                    try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0,
                    try db.tableExists("grdb_migrations") ? try migrator.appliedIdentifiers(db) : []
                )
            }
            try queue.close()
            guard identifier == applicationID else {
                throw ReplicaFileError(
                    .foreignFile, "\(path) is not a Concierge replica file; it was left untouched")
            }
            let known = Set(ClientMigrations.all.map(\.name))
            guard applied.isSubset(of: known) else {
                throw ReplicaFileError(
                    .newerVersion, "\(path) was written by a newer Concierge; update the CLI to open it")
            }
            needsMigration = applied != known
        } catch let error as ReplicaFileError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            throw ReplicaFileError(.foreignFile, "\(path) is not a Concierge replica file; it was left untouched")
        } catch {
            throw ReplicaFileError(.corrupt, "\(path) cannot be read; it was left untouched", underlying: error)
        }
        do {
            // A queue, not a pool: a pool writes to the file as it opens, before anything is known to
            // be sound. The file is in WAL mode, so other processes still read while this one writes.
            let pool = try DatabaseQueue(path: path, configuration: configuration())
            // Nothing is written to a file that is up to date until the user changes something.
            if needsMigration { try migrator.migrate(pool) }
            let file = ReplicaFile(path: path, pool: pool)
            _ = try file.read { try $0.metadata() }
            return file
        } catch let error as ReplicaFileError {
            throw error
        } catch {
            throw ReplicaFileError(.corrupt, "\(path) is damaged", underlying: error)
        }
    }

    static func configuration() -> Configuration {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.foreignKeysEnabled = true
        configuration.prepareDatabase { db in
            // An edit the user saw saved survives power loss too.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        return configuration
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in ClientMigrations.all {
            migrator.registerMigration(migration.name) { db in try db.execute(sql: migration.sql) }
        }
        return migrator
    }

    /// Closes the database; the file stays as it is.
    public func close() throws { try pool.close() }

    // MARK: ReplicaStore

    public func read<T>(_ body: (any ReplicaReader) throws -> T) throws -> T {
        try mapped { try pool.read { db in try body(Rows(db: db)) } }
    }

    public func write<T>(_ body: (any ReplicaWriter) throws -> T) throws -> T {
        try mapped { try pool.write { db in try body(Rows(db: db)) } }
    }

    func mapped<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as DatabaseError {
            throw ReplicaFileError(
                error.resultCode == .SQLITE_CORRUPT ? .corrupt : .database, "\(path): \(error.message ?? "\(error)")",
                underlying: error)
        }
    }

    // MARK: The account

    /// The account this replica belongs to: its session (tokens included) and sync status.
    public func account() throws -> StoredAccount {
        try mapped {
            try pool.read { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM account WHERE id = 1") else {
                    throw ReplicaFileError(.corrupt, "\(path) has no account")
                }
                return try StoredAccount(row: row, path: path)
            }
        }
    }

    /// Stores rotated tokens. Call it whenever the transport reports a new session.
    public func saveSession(_ session: Session) throws {
        try mapped {
            try pool.write { db in
                try db.execute(
                    sql: "UPDATE account SET refresh_token = ?, access_token = ? WHERE id = 1",
                    arguments: [session.refreshToken, session.accessToken])
            }
        }
    }

    /// Records the outcome of a sync attempt for `concierge status`.
    public func recordSync(atMillis: Int64, finished: Bool, summary: String) throws {
        try mapped {
            try pool.write { db in
                try db.execute(
                    sql: "UPDATE account SET last_sync_at = ?, last_sync_ok = ?, last_sync_summary = ? WHERE id = 1",
                    arguments: [atMillis, finished, summary])
            }
        }
    }

    /// The newest timeline stamp the user has seen, per case (as the caller wrote it).
    public func readMarks() throws -> [RecordID: String] {
        try mapped {
            try pool.read { db in
                var marks: [RecordID: String] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT case_id, seen FROM read_mark") {
                    marks[RecordID(row["case_id"] as String)] = row["seen"]
                }
                return marks
            }
        }
    }

    /// Marks a case read up to `seen` (the CLI writes the newest entry's HLC).
    public func markRead(_ caseID: RecordID, seen: String) throws {
        try mapped {
            try pool.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO read_mark (case_id, seen) VALUES (?, ?) ON CONFLICT (case_id) DO UPDATE SET seen = excluded.seen",
                    arguments: [caseID.rawValue, seen])
            }
        }
    }
}

/// An account as its replica file stores it.
public struct StoredAccount: Sendable {
    public var path: String
    public var session: Session
    public var label: String
    public var createdMillis: Int64
    public var lastSyncMillis: Int64?
    public var lastSyncFinished: Bool?
    public var lastSyncSummary: String?

    init(row: Row, path: String) throws {
        guard let server = URL(string: row["server"]), let replica = ReplicaID(row["replica"] as String) else {
            throw ReplicaFileError(.corrupt, "\(path) holds a malformed account")
        }
        self.path = path
        session = Session(
            server: server, replica: replica, principal: PrincipalID(row["principal"] as String),
            provider: ProviderID(row["provider"] as String), role: Role(row["role"] as String),
            refreshToken: row["refresh_token"], accessToken: row["access_token"])
        label = row["label"]
        createdMillis = row["created_at"]
        lastSyncMillis = row["last_sync_at"]
        lastSyncFinished = row["last_sync_ok"]
        lastSyncSummary = row["last_sync_summary"]
    }
}
