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
        var head: Int64?
        var counts = Counts()
    }

    /// About how many records it keeps; 0 keeps none.
    let capacity: Int
    private let state = Mutex(State())
    /// SQLite's `data_version` at the last push transaction (`.min`: not read yet). Apart from the
    /// lock: the writer reads it before every group, and must not wait while the checks hold the
    /// lock to look up or store records.
    private let dataVersion = Atomic<Int64>(.min)

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
        let previous = dataVersion.exchange(version, ordering: .relaxed)
        guard previous != .min, previous != version else { return false }
        removeAll()
        return true
    }

    /// The log head as of which the cache holds committed states (`nil`: unknown). PostgreSQL
    /// compares it with the committed head to learn whether other instances wrote since.
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
        let dropped = state.withLock { state in
            state.counts.drops += 1
            defer { (state.young, state.old) = ([:], [:]) }
            return (state.young, state.old)
        }
        // Freed here, outside the lock.
        withExtendedLifetime(dropped) {}
    }

    /// The record held for `key`: `.some(nil)` when no record has it, `nil` when not held.
    func lookup(_ key: RecordKey) -> Entry? {
        guard capacity > 0 else { return nil }
        let (entry, dropped) = state.withLock { state -> (Entry?, [RecordKey: Entry]?) in
            if let entry = state.young[key] {
                state.counts.hits += 1
                return (entry, nil)
            }
            guard let entry = state.old.removeValue(forKey: key) else {
                state.counts.misses += 1
                return (nil, nil)
            }
            state.counts.hits += 1
            return (entry, Self.insert(key, entry, into: &state, capacity: capacity))
        }
        withExtendedLifetime(dropped) {}
        return entry
    }

    /// Keeps committed states (each a record as its rows store it, or `nil` for none).
    func store(_ entries: [RecordKey: Entry]) {
        guard capacity > 0, !entries.isEmpty else { return }
        let dropped = state.withLock { state in
            var dropped: [[RecordKey: Entry]] = []
            for (key, entry) in entries {
                if let generation = Self.insert(key, entry, into: &state, capacity: capacity) {
                    dropped.append(generation)
                }
            }
            return dropped
        }
        withExtendedLifetime(dropped) {}
    }

    /// Inserts into the young generation; when that is full, it becomes the old one, and the old
    /// one is returned, for the caller to free once it has let go of the lock (thousands of
    /// records take a while to free).
    private static func insert(_ key: RecordKey, _ entry: Entry, into state: inout State, capacity: Int)
        -> [RecordKey: Entry]?
    {
        var dropped: [RecordKey: Entry]?
        if state.young.count >= max(1, capacity / 2), state.young[key] == nil {
            dropped = state.old
            state.old = state.young
            state.young = [:]
        }
        state.young[key] = entry
        return dropped
    }
}
