import ConciergeCore
import Foundation

/// How a pull page and a snapshot page are made of what an engine reads, written once for both.
/// Each engine reads its rows in one snapshot (its SQL differs); what the rows mean, which events
/// they make, in which order, and how each is projected for the caller lives here.
enum PullAssembly {
    /// A log page's rows, as an engine reads them for a principal after a cursor.
    struct LogRows {
        /// Positions the principal sees after the cursor (a record in their audience changed, or
        /// their scope moved), in order, at most `limit + 1` (one more tells that more are left).
        var seqs: [Int64] = []
        /// The records of each position that the principal sees.
        var visible: [Int64: Set<RecordKey>] = [:]
        /// The principal's scope events of each position, in `(kind, type, id)` order.
        var scope: [Int64: [(kind: String, key: RecordKey)]] = [:]
        /// The change sets of the visible positions.
        var sets: [Int64: ChangeSet] = [:]
    }

    /// What an engine reads after the rows: the current state of records the principal entered,
    /// and the kinds of entries the page's sets erase.
    struct Lookups {
        /// Records of `enter` events, whole; absent: gone.
        var records: [RecordKey: Record] = [:]
        /// The owners of those that a principal owns (``DomainRules/isOwnedByItsID(_:)``).
        var owners: [RecordKey: Principal] = [:]
        /// The kind of each entry a set on the page erases (absent: not found).
        var erasedKinds: [ErasedEntry: String] = [:]
    }

    /// An entry a change set erases.
    struct ErasedEntry: Hashable {
        var key: RecordKey
        var entry: EntryID
    }

    /// The positions of the page (at most `limit`) and whether more are left.
    static func page(of seqs: [Int64], limit: Int) -> (seqs: ArraySlice<Int64>, hasMore: Bool) {
        (seqs.prefix(limit), seqs.count > limit)
    }

    /// The records whose current state the page's `enter` events carry.
    static func entered(_ rows: LogRows) -> Set<RecordKey> {
        Set(rows.scope.values.joined().filter { $0.kind == "enter" }.map(\.key))
    }

    /// The entries the page's sets erase on records the principal sees.
    static func erased(_ rows: LogRows) -> Set<ErasedEntry> {
        var result = Set<ErasedEntry>()
        for (seq, set) in rows.sets {
            let keys = rows.visible[seq] ?? []
            for change in set.changes where keys.contains(change.key) {
                if case .redactEntry(_, let entry, _) = change.change {
                    result.insert(ErasedEntry(key: change.key, entry: entry))
                }
            }
        }
        return result
    }

    /// The page: at each position, first the principal's scope events (a `leave`, or an `enter`
    /// with the record's current projection, skipped when it has left their scope again since),
    /// then the position's change set projected on the other records they see there.
    static func logPage(
        _ rows: LogRows, _ lookups: Lookups, for principal: Principal, head: UInt64, limit: Int, epoch: String,
        rules: DomainRules = .standard
    ) -> PullPage {
        let (seqs, hasMore) = page(of: rows.seqs, limit: limit)
        guard let last = seqs.last else {
            return PullPage(events: [], cursor: Cursor(epoch: epoch, seq: head), hasMore: false)
        }
        var events: [PullEvent] = []
        for seq in seqs {
            var handled = Set<RecordKey>()
            for event in rows.scope[seq] ?? [] {
                handled.insert(event.key)
                if event.kind == "leave" {
                    events.append(.leave(event.key))
                } else if let record = lookups.records[event.key],
                    !rules.audience(of: record, owner: lookups.owners[event.key]).isDisjoint(with: principal.tags)
                {
                    events.append(.enter(rules.project(record, for: principal)))
                }
            }
            let keys = (rows.visible[seq] ?? []).subtracting(handled)
            guard !keys.isEmpty, let set = rows.sets[seq] else { continue }
            let projected = rules.project(set, for: principal, keys: keys) { key, entry in
                lookups.erasedKinds[ErasedEntry(key: key, entry: entry)].map {
                    rules.isInternal(kind: $0, of: key.type)
                }
                    ?? false
            }
            if let projected { events.append(.changeSet(projected)) }
        }
        return PullPage(
            events: events, cursor: Cursor(epoch: epoch, seq: hasMore ? UInt64(last) : head), hasMore: hasMore)
    }

    /// A snapshot page's rows: records in the principal's scope with their image when it is
    /// current and shows them nothing hidden. `changed` rows first (records changed since the
    /// previous page was taken), then at most `limit + 1` of the next records, newest first.
    struct SnapshotRow {
        var key: RecordKey
        var lastSeq: Int64
        var image: [UInt8]?
    }

    /// The records to send as images and those to read and project, and where the next page starts.
    static func snapshotPage(_ rows: [SnapshotRow], changed: Int, position: SnapshotPosition, head: UInt64, limit: Int)
        -> (images: [RecordImage], keys: [RecordKey], next: SnapshotPosition?)
    {
        var rows = rows
        var next: SnapshotPosition?
        if rows.count - changed > limit {
            let previous = rows[changed + limit - 1]
            next = position
            next!.seen = head
            next!.last = (previous.lastSeq, previous.key.type.rawValue, previous.key.id.rawValue)
            rows.removeLast()
        }
        var images: [RecordImage] = []
        var keys: [RecordKey] = []
        for row in rows {
            if let image = row.image { images.append(RecordImage(bytes: image)) } else { keys.append(row.key) }
        }
        return (images, keys, next)
    }
}
