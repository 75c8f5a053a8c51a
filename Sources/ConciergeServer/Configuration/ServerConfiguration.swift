import ConciergeCore
import Foundation

/// The server's settings, read once at start.
///
/// Keys (flag, then environment, then default):
/// - `--host` / `CONCIERGE_HOST`: listen address, `127.0.0.1`
/// - `--port` / `CONCIERGE_PORT`: port, `8080` (`0` picks a free one)
/// - `--data` / `CONCIERGE_DATA`: data folder, `./concierge-data`
/// - `--database-url` / `CONCIERGE_DATABASE_URL`: `postgres://user:password@host:port/database`
///   selects the PostgreSQL engine (several instances on one cluster); unset, SQLite in the data
///   folder
/// - `CONCIERGE_DATABASE_CONNECTIONS`: most PostgreSQL connections per instance, 20
/// - `CONCIERGE_LIVE_POLL_MS`: PostgreSQL engine: how often an instance polls the log head in case
///   a live notice from another instance was lost, 1,000
/// - `CONCIERGE_LIVE_RECHECK_MS`: how often an open live socket checks that its device is still
///   active (a revoked device's socket closes), 30,000
/// - `CONCIERGE_RECORD_CACHE`: about how many records the push writer keeps decoded (`0` turns the
///   cache off), 20,000
/// - `CONCIERGE_SNAPSHOT_IMAGES`: `1` keeps an image of every record ready for snapshot pages,
///   built in the background after writes (`SnapshotImages`); `0` builds none (snapshots read
///   every record from its rows), 1
/// - `CONCIERGE_MAX_BODY_BYTES`: largest request body, 4 MiB
/// - `CONCIERGE_MAX_BATCH_SETS`: most change sets in one push, 500
/// - `CONCIERGE_MAX_PULL_LIMIT`: most change sets in one pull page, 1,000
/// - `CONCIERGE_ACCESS_TOKEN_SECONDS`: access-token lifetime, 900
/// - `CONCIERGE_DRIFT_MS`: how far ahead of the server's clock a stamp may be, 60,000
/// - `CONCIERGE_RETENTION_DAYS`: how long a replica may stay away before it must reset, 30
/// - `CONCIERGE_COMPACT_INTERVAL_SECONDS`: how often the change log is compacted, 3,600
/// - `--audit-log` / `CONCIERGE_AUDIT_LOG`: a file the audit trail appends one line per accepted
///   change set to (``AuditTrail``, a change-log follower); unset, none
/// - `CONCIERGE_FOLLOW_INTERVAL_MS`: how often change-log followers look for new change sets, 500
/// - `CONCIERGE_LOG_LEVEL`: `info`
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var dataFolder = URL(fileURLWithPath: "concierge-data")
    public var maxBodyBytes = 4 * 1024 * 1024
    public var maxBatchSets = 500
    public var maxPullLimit = 1_000
    public var accessTokenSeconds: Int64 = 900
    public var driftMilliseconds: UInt64 = 60_000
    public var logLevel = "info"
    /// How long a connection may stay without a request part, in seconds: an idle connection, a
    /// request head sent in part and left there, are closed after it (`CONCIERGE_IDLE_TIMEOUT_SECONDS`).
    public var idleTimeoutSeconds = 60
    /// `text` (one line per event, the default) or `json` (one JSON object per line) on standard
    /// error (`CONCIERGE_LOG_FORMAT`).
    public var logFormat = "text"
    /// How large a value or a log entry a change may carry (`CONCIERGE_MAX_VALUE_BYTES`,
    /// `CONCIERGE_MAX_ENTRY_BYTES`).
    public var contentLimits = ContentLimits.default
    public var retentionDays = 30
    public var compactIntervalSeconds = 3_600
    /// The PostgreSQL engine's URL; `nil` selects SQLite. It may hold a password: never log it.
    public var databaseURL: String?
    public var databaseConnections = 20
    public var livePollMilliseconds = 1_000
    /// How often an open live socket checks its device again.
    public var liveRecheckMilliseconds = 30_000
    public var recordCache = Self.defaultRecordCache
    /// Whether the engine builds snapshot images in the background.
    public var snapshotImages = true
    /// The audit trail's file (``AuditTrail``); `nil`: no audit trail.
    public var auditLogPath: String?
    /// How often change-log followers look for new change sets.
    public var followIntervalMilliseconds = 500
    /// How many records the push writer keeps decoded by default (``RecordCache``).
    public static let defaultRecordCache = 20_000

    public init() {}

    /// The defaults overridden by `CONCIERGE_*` variables of `environment`.
    /// - Throws: ``ConfigurationError`` naming a variable whose value does not parse.
    public init(environment: [String: String]) throws {
        func int(_ name: String) throws -> Int? {
            guard let text = environment[name] else { return nil }
            guard let value = Int(text), value >= 0 else {
                throw ConfigurationError(message: "\(name) must be a non-negative integer, not \"\(text)\"")
            }
            return value
        }
        if let host = environment["CONCIERGE_HOST"] { self.host = host }
        if let port = try int("CONCIERGE_PORT") {
            guard port <= 65_535 else {
                throw ConfigurationError(message: "CONCIERGE_PORT must be 0 to 65535, not \(port)")
            }
            self.port = port
        }
        if let data = environment["CONCIERGE_DATA"] { dataFolder = URL(fileURLWithPath: data) }
        if let value = try int("CONCIERGE_MAX_BODY_BYTES") { maxBodyBytes = value }
        if let value = try int("CONCIERGE_MAX_BATCH_SETS") { maxBatchSets = value }
        if let value = try int("CONCIERGE_MAX_PULL_LIMIT") { maxPullLimit = max(1, value) }
        if let value = try int("CONCIERGE_ACCESS_TOKEN_SECONDS") { accessTokenSeconds = Int64(value) }
        if let value = try int("CONCIERGE_DRIFT_MS") { driftMilliseconds = UInt64(value) }
        if let format = environment["CONCIERGE_LOG_FORMAT"] {
            guard ["text", "json"].contains(format) else {
                throw ConfigurationError(message: "CONCIERGE_LOG_FORMAT must be text or json, not \"\(format)\"")
            }
            logFormat = format
        }
        if let value = try int("CONCIERGE_IDLE_TIMEOUT_SECONDS") { idleTimeoutSeconds = max(1, value) }
        if let value = try int("CONCIERGE_MAX_VALUE_BYTES") { contentLimits.valueBytes = max(256, value) }
        if let value = try int("CONCIERGE_MAX_ENTRY_BYTES") { contentLimits.entryBytes = max(256, value) }
        if let level = environment["CONCIERGE_LOG_LEVEL"] {
            guard Self.logLevels.contains(level) else {
                throw ConfigurationError(
                    message:
                        "CONCIERGE_LOG_LEVEL must be one of \(Self.logLevels.joined(separator: ", ")), not \"\(level)\""
                )
            }
            logLevel = level
        }
        if let value = try int("CONCIERGE_RETENTION_DAYS") { retentionDays = max(1, value) }
        if let value = try int("CONCIERGE_COMPACT_INTERVAL_SECONDS") { compactIntervalSeconds = max(1, value) }
        if let url = environment["CONCIERGE_DATABASE_URL"], !url.isEmpty { databaseURL = url }
        // At least 3: the snapshot image builder holds one connection while it reads on another.
        if let value = try int("CONCIERGE_DATABASE_CONNECTIONS") { databaseConnections = max(3, value) }
        if let value = try int("CONCIERGE_LIVE_POLL_MS") { livePollMilliseconds = max(10, value) }
        if let value = try int("CONCIERGE_LIVE_RECHECK_MS") { liveRecheckMilliseconds = max(50, value) }
        if let value = try int("CONCIERGE_RECORD_CACHE") { recordCache = value }
        if let path = environment["CONCIERGE_AUDIT_LOG"], !path.isEmpty { auditLogPath = path }
        if let value = try int("CONCIERGE_FOLLOW_INTERVAL_MS") { followIntervalMilliseconds = max(10, value) }
        if let value = try int("CONCIERGE_SNAPSHOT_IMAGES") {
            guard value <= 1 else {
                throw ConfigurationError(message: "CONCIERGE_SNAPSHOT_IMAGES must be 0 or 1, not \"\(value)\"")
            }
            snapshotImages = value == 1
        }
    }

    /// The log levels `CONCIERGE_LOG_LEVEL` takes, most verbose first.
    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    public var retentionMillis: Int64 { Int64(retentionDays) * 86_400_000 }

    /// The SQLite file in the data folder.
    public var databasePath: String { dataFolder.appendingPathComponent("concierge.sqlite").path }
}

/// A configuration value that does not parse.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
