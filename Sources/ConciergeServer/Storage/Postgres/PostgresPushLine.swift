import ConciergeCore
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// A group push's reads on PostgreSQL, made beside the instance's writer (``PostgresPushEngine``):
/// committed rows, read outside any transaction, with the rows of the group being written
/// meanwhile (not committed yet) laid over them (``LinePushStore``). What another instance commits
/// meanwhile is not laid over anything: the writer finds the head moved, and the group is checked
/// again.
struct PostgresLinePushStore: LinePushStore {
    let client: PostgresClient
    let logger: Logger
    /// The group being written, or `nil` when none is.
    let before: UncommittedGroup?
    /// The last log position assigned.
    private(set) var head: Int64
    /// Whether another instance committed since this instance's last commit (seen when no group
    /// of this instance is being written).
    private(set) var othersWrote = false

    /// - Parameter before: the group being written while this one is checked (`nil`: none is;
    ///   the head is read as committed, and `cache` forgets what other instances wrote since).
    init(client: PostgresClient, logger: Logger, before: UncommittedGroup?, cache: RecordCache) async throws {
        self.client = client
        self.logger = logger
        self.before = before
        if let before {
            head = before.head
        } else {
            let (head, wrote) = try await client.withConnection { connection in
                let head = try await connection.one("SELECT seq FROM log_head", Int64.self, logger)
                return (head, try await PostgresPushStore.refresh(cache, head: head, connection, logger))
            }
            self.head = head
            othersWrote = wrote
        }
    }

    private func read<T: Sendable>(_ body: @Sendable (PostgresReader) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await body(PostgresReader(connection: connection, logger: logger))
        }
    }

    static func audienceText(_ tags: [String]) -> String { PendingRows.arrayLiteral(tags) }

    func committedOutcomes(_ ids: [ChangeSetID]) async throws -> [ChangeSetID: StoredOutcome] {
        try await read { try await $0.outcomes(ids) }
    }

    /// As committed, with the uncommitted group's and this group's saves laid over. Not locked:
    /// a follow-up set of another instance moves the head, and this group is checked again.
    func serverIdentity(pending: inout PendingRows) async throws -> ServerIdentity {
        let logger = logger
        var meta = try await read { reader in
            var meta: [String: String] = [:]
            for row in try await reader.connection.query(
                "SELECT key, value FROM server_meta WHERE key = ANY(\(ServerIdentity.metaKeys))", logger: logger
            ).collect() {
                let (key, value) = try row.decode((String, String).self)
                meta[key] = value
            }
            return meta
        }
        for rows in [before?.rows, pending].compactMap({ $0 }) { meta.merge(rows.serverMeta) { $1 } }
        return ServerIdentity(meta: meta)
    }

    func principal(_ id: PrincipalID) async throws -> Principal? {
        let logger = logger
        return try await read { try await PostgresServerStore.principal(id, $0.connection, logger) }
    }

    func principals(reading tags: Set<String>) async throws -> Set<String> {
        guard !tags.isEmpty else { return [] }
        let logger = logger
        return try await read { reader in
            Set(
                try await reader.connection.query(
                    "SELECT DISTINCT principal_id FROM principal_tag WHERE tag = ANY(\(Array(tags)))", logger: logger
                ).collect().map { try $0.decode(String.self) })
        }
    }

    mutating func nextPosition() async throws -> Int64 {
        head += 1
        return head
    }

    func committedRows(_ keys: [RecordKey], fields: Bool, needs: [RecordKey: RecordRows.Need]) async throws
        -> [RecordKey: StoredRows]
    {
        try await read { reader in
            var result: [RecordKey: StoredRows] = [:]
            var existing = keys
            if fields {
                let (markers, fieldRows) = try await reader.markersAndFields(keys)
                for key in keys {
                    var rows = StoredRows(key: key)
                    rows.markers = markers[key]
                    for (field, state) in fieldRows[key] ?? [] { rows.fields[field] = state }
                    result[key] = rows
                }
                existing = keys.filter { markers[$0] != nil }
            } else {
                for key in keys { result[key] = StoredRows(key: key) }
            }
            for (key, entries) in try await reader.entrySlots(existing, needs: needs) { result[key]?.entries = entries }
            return result
        }
    }
}

/// PostgreSQL's push line (``PushLine``): an instance checks a group beside its writer
/// (``PostgresLinePushStore``) while the writer writes the group before, in a transaction that
/// holds the log's head row from its first statement to its commit.
///
/// The writer writes a group only if the head it finds is the one the group's checks started
/// from: then no other instance committed in between, and what the group read is what it writes
/// over. Otherwise it writes nothing, and the group is checked again. While instances contend
/// (for a second after one found that another had written), groups run under the head row's lock
/// instead, checked inside their transaction (``PostgresServerStore/push(_:client:logger:epoch:options:instance:cache:)``),
/// so that an instance never checks in vain over and over.
struct PostgresPushEngine: PushLineEngine {
    let client: PostgresClient
    let logger: Logger
    let cache: RecordCache
    let images: SnapshotImages
    let epoch: String
    let observer: any StoreObserver
    /// This instance's id on its notices.
    let instance: String
    /// Until when groups run under the lock (another instance wrote recently).
    let contention: Contention

    /// When this instance last found that another had written.
    final class Contention: Sendable {
        private let until = Mutex<ContinuousClock.Instant?>(nil)
        /// How long groups run under the lock after another instance was seen writing.
        static let window = Duration.seconds(1)

        func noteOthersWrote() { until.withLock { $0 = .now + Self.window } }

        var contended: Bool { until.withLock { $0.map { ContinuousClock.now < $0 } ?? false } }
    }

    func checkStore(before: UncommittedGroup?) async throws -> PostgresLinePushStore {
        let store = try await PostgresLinePushStore(client: client, logger: logger, before: before, cache: cache)
        if store.othersWrote { contention.noteOthersWrote() }
        return store
    }

    /// The group's statements, their values encoded beside the writer.
    func rows(_ pending: PendingRows) -> [PostgresQuery] { PostgresPushStore.statements(pending) }

    func write(_ group: CheckedGroup<[PostgresQuery]>, after previous: LineTransaction?) -> LineTransaction {
        let transaction = LineTransaction()
        let (client, logger, observer, contention) = (client, logger, observer, contention)
        let notice = observer.sendsNotices ? FanOutNotice(group.touched, from: instance).payload : nil
        Task {
            if let previous {
                _ = try? await previous.committed
                guard previous.didCommit else { return transaction.complete(.success(false)) }
            }
            do {
                let wrote = try await PostgresServerStore.write(client: client, logger: logger) { connection, logger in
                    let head = try await connection.one("SELECT seq FROM log_head FOR UPDATE", Int64.self, logger)
                    guard head == group.base else { return false }
                    try await PostgresPushStore.write(group.rows, connection, logger)
                    let moved = group.uncommitted.head > head
                    try await PostgresPushStore.close(
                        head: moved ? group.uncommitted.head : nil, callers: group.callers,
                        notice: moved ? notice : nil, connection, logger)
                    for result in group.results { try await observer.beforeCommit(result.outcomes) }
                    return true
                }
                if !wrote { contention.noteOthersWrote() }
                transaction.complete(.success(wrote))
            } catch {
                transaction.complete(.failure(error))
            }
        }
        return transaction
    }
}
