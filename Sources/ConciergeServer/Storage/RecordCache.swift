import ConciergeCore
import GRDB
import Synchronization

/// A push writer's copy of the records it read and wrote lately, decoded: a push that touches a
/// record held here merges into it without reading and decoding the record's rows again.
///
/// It holds a record as its record and field rows store it (log fields without their entries,
/// which are read from their rows when a change needs them), or that no record has the key.
/// Only what is committed enters it: a group push keeps its own writes apart and hands them over
/// after its commit, so a rolled-back group leaves nothing behind. Every record write goes
/// through the push path, so what else may change a record is another writer:
/// - SQLite: every write of the server goes through its one writer connection; a commit by
///   another connection (an admin command run while the server runs, say) changes
///   `PRAGMA data_version` on that connection, and the whole cache is dropped at the next push
///   transaction (``checkDataVersion(in:)``), whose group is then checked again.
/// - PostgreSQL: pushes of all instances hold the log's head row in turn; an instance that finds
///   the head moved since its own last commit forgets the records written since
///   (``PostgresServerStore``).
///
/// It keeps about `capacity` records, the most recently used (two generations: when the young one
/// is full it becomes the old one; a record found in the old one moves to the young one).
final class RecordCache: Sendable {
    /// A record as its rows store it, or `nil`: no record has the key.
    typealias Entry = Record?

    struct Counts: Sendable, Equatable {
        var hits = 0
        var misses = 0
        var drops = 0
    }

    private struct State {
        var young: [RecordKey: Entry] = [:]
        var old: [RecordKey: Entry] = [:]
        var dataVersion: Int64?
        var head: Int64?
        var counts = Counts()
    }

    /// About how many records it keeps; 0 keeps none.
    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// Hits, misses and drops (the whole cache, after another connection's commit) so far.
    var counts: Counts { state.withLock { $0.counts } }

    /// How many records it holds.
    var count: Int { state.withLock { $0.young.count + $0.old.count } }

    /// Drops everything when another connection committed since the last call, and says so.
    /// Call on the writer's connection at the start of each push transaction, and once when the
    /// store opens.
    @discardableResult
    func checkDataVersion(in db: Database) throws -> Bool {
        let version = try Int64.fetchOne(db, sql: "PRAGMA data_version") ?? 0
        return state.withLock { state in
            defer { state.dataVersion = version }
            guard let previous = state.dataVersion, previous != version else { return false }
            state.young = [:]
            state.old = [:]
            state.counts.drops += 1
            return true
        }
    }

    /// PostgreSQL: the log head as of which the cache holds committed states (`nil`: unknown).
    var head: Int64? {
        get { state.withLock { $0.head } }
        set { state.withLock { $0.head = newValue } }
    }

    /// Forgets the records of `keys` (another instance changed them).
    func remove(_ keys: some Sequence<RecordKey>) {
        state.withLock { state in
            for key in keys {
                state.young[key] = nil
                state.old[key] = nil
            }
        }
    }

    /// Forgets everything.
    func removeAll() {
        state.withLock { state in
            state.young = [:]
            state.old = [:]
            state.counts.drops += 1
        }
    }

    /// The record held for `key`: `.some(nil)` when no record has it, `nil` when not held.
    func lookup(_ key: RecordKey) -> Entry? {
        guard capacity > 0 else { return nil }
        return state.withLock { state in
            if let entry = state.young[key] {
                state.counts.hits += 1
                return entry
            }
            guard let entry = state.old.removeValue(forKey: key) else {
                state.counts.misses += 1
                return nil
            }
            state.counts.hits += 1
            Self.insert(key, entry, into: &state, capacity: capacity)
            return entry
        }
    }

    /// Keeps committed states (each a record as its rows store it, or `nil` for none).
    func store(_ entries: [RecordKey: Entry]) {
        guard capacity > 0, !entries.isEmpty else { return }
        state.withLock { state in
            for (key, entry) in entries { Self.insert(key, entry, into: &state, capacity: capacity) }
        }
    }

    private static func insert(_ key: RecordKey, _ entry: Entry, into state: inout State, capacity: Int) {
        if state.young.count >= max(1, capacity / 2), state.young[key] == nil {
            state.old = state.young
            state.young = [:]
        }
        state.young[key] = entry
    }
}
