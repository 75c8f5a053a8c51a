import ConciergeCore
import ConciergeTestSupport
import Foundation

/// How many generated cases each property runs: `CONCIERGE_PROPERTY_CASES` (make test: a few
/// hundred; make soak: 10,000).
let propertyCases: Int = {
    ProcessInfo.processInfo.environment["CONCIERGE_PROPERTY_CASES"].flatMap(Int.init) ?? 200
}()

/// A wall clock tests set by hand.
final class ManualWallClock: WallClock, @unchecked Sendable {
    private let lock = NSLock()
    private var millis: UInt64
    init(_ millis: UInt64) { self.millis = millis }
    func nowMillis() -> UInt64 { lock.withLock { millis } }
    func set(_ value: UInt64) { lock.withLock { millis = value } }
    func advance(_ delta: UInt64) { lock.withLock { millis += delta } }
}

/// Applies a change set to a set of records: the real one, or a broken one a test proves is caught.
typealias Applier = @Sendable (ChangeSet, inout [RecordKey: Record]) throws -> Void

let realApply: Applier = { set, records in try set.apply(to: &records) }

/// Canonical bytes of a whole replica: its records sorted by key.
func canonicalBytes(_ records: [RecordKey: Record]) -> [UInt8] {
    CanonicalJSON.encode(.array(records.keys.sorted().map { records[$0]!.value }))
}

/// A simulated fleet of replicas editing offline and exchanging change sets partially, producing
/// valid change sets that exercise the hard cases on purpose:
/// - a coarse shared wall clock, so stamps of different replicas share milliseconds and whole HLCs;
/// - concurrent writes to the same few fields (one with history, one personal, one unknown to the
///   schema);
/// - removes of tags observed from other replicas, so random delivery puts removes before adds;
/// - channel entry ids appended by several replicas (a retried delivery);
/// - deletions and redactions racing edits.
struct Fleet {
    struct Member {
        var replica: ReplicaID
        var author: Author
        var clock = HybridLogicalClock()
        var seq: UInt64 = 0
        var view: [RecordKey: Record] = [:]
        var seen = Set<ChangeSetID>()
    }

    static let caseKeys = (0..<3).map { RecordKey(type: .serviceCase, id: RecordID("c\($0)")) }
    static let fields: [(String, Bool, Bool)] = [  // name, history, personal
        ("priority", true, false), ("subject", false, true), ("assignee", true, false),
        ("summary", true, true), ("x-future", false, false),
    ]

    var random: SplitMix64
    var members: [Member]
    var sets: [ChangeSet] = []
    var wall: UInt64 = 1_700_000_000_000
    var appendedEntries = Set<EntryID>()

    init(seed: UInt64, replicas: Int) {
        random = SplitMix64(seed: seed)
        members = (0..<replicas).map { index in
            // Replica ids with a shared prefix, so the tie-break compares deep into the text.
            Member(
                replica: ReplicaID(high: 0x1111_1111_1111_4111, low: 0x8000_0000_0000_0000 | UInt64(index * 7 + 1)),
                author: Author(principal: PrincipalID("p\(index)"), role: index == 0 ? .customer : .agent))
        }
        // Also test ids that differ in the high half, ordered against their index.
        if replicas > 2 {
            members[2].replica = ReplicaID(high: 0x0000_0000_0000_4000, low: 0x8000_0000_0000_0001)
        }
    }

    mutating func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
    mutating func chance(_ percent: UInt64) -> Bool { random.next() % 100 < percent }

    mutating func stamp(_ index: Int) -> Stamp {
        Stamp(hlc: members[index].clock.tick(wallMillis: wall), replica: members[index].replica)
    }

    /// One step: a local edit at a random replica, or a partial exchange between two.
    mutating func step() throws {
        if chance(60) { wall += random.next() % 2 }  // many steps share a millisecond
        if chance(25), members.count > 1 {
            exchange()
        } else {
            try edit(Int(random.next() % UInt64(members.count)))
        }
    }

    /// Replica `to` receives a random subset of what `from` has seen, in random order.
    mutating func exchange() {
        let from = Int(random.next() % UInt64(members.count))
        var to = Int(random.next() % UInt64(members.count))
        if to == from { to = (to + 1) % members.count }
        var largest: HLC?
        for set in sets where members[from].seen.contains(set.id) && !members[to].seen.contains(set.id) {
            guard chance(70) else { continue }
            try! set.apply(to: &members[to].view)
            members[to].seen.insert(set.id)
            largest = max(largest ?? set.largestStamp!.hlc, set.largestStamp!.hlc)
        }
        if let largest { members[to].clock.receive(largest, wallMillis: wall) }
    }

    mutating func edit(_ index: Int) throws {
        let key = pick(Self.caseKeys)
        let record = members[index].view[key]
        var changes: [Change] = []
        let count = 1 + Int(random.next() % 3)
        var working = record ?? Record(key: key)
        for _ in 0..<count {
            let change: Change
            switch random.next() % 100 {
            case 0..<45:
                let (field, history, personal) = pick(Self.fields)
                let value: Value =
                    chance(20) ? .null : .string(pick(["low", "high", "urgent", "Grüße", "a/b", "\"q\""]))
                change = .write(
                    field: field, value: value, base: working.register(field)?.latest.stamp, stamp: stamp(index),
                    history: history, personal: personal)
            case 45..<60:
                change = .add(field: "tags", element: pick(["billing", "vip", "outage"]), stamp: stamp(index))
            case 60..<72:
                let element = pick(["billing", "vip", "outage"])
                let observed = working.set("tags")?.tags(of: element) ?? []
                change = .remove(field: "tags", element: element, observed: observed, stamp: stamp(index))
            case 72..<92:
                // A third of the appends share channel ids across replicas.
                let id =
                    chance(33)
                    ? EntryID("mail-\(random.next() % 4)")
                    : EntryID("e-\(members[index].replica)-\(members[index].seq)-\(changes.count)")
                appendedEntries.insert(id)
                let kind = pick([EntryKind.message, EntryKind.note, EntryKind.statusChange])
                change = .append(
                    field: "timeline",
                    entry: NewEntry(
                        id: id, stamp: stamp(index), kind: kind,
                        payload: ["direction": "inbound", "to": .string(pick(["open", "resolved", "closed"]))],
                        personal: ["body": .string(pick(["hello", "my router", "thanks"]))]))
            case 92..<95:
                let ids = working.log("timeline")?.entries.keys.map { $0 } ?? []
                guard let id = ids.min() else { continue }
                change = .redactEntry(field: "timeline", entry: id, stamp: stamp(index))
            case 95..<98:
                change = .delete(stamp: stamp(index))
            default:
                change = .redact(stamp: stamp(index))
            }
            try working.apply(change, by: members[index].author)
            changes.append(change)
        }
        guard !changes.isEmpty else { return }
        members[index].seq += 1
        let set = ChangeSet(
            id: ChangeSetID(replica: members[index].replica, seq: members[index].seq), author: members[index].author,
            schemaVersion: 1, changes: changes.map { RecordChange(key, $0) })
        try set.apply(to: &members[index].view)
        members[index].seen.insert(set.id)
        sets.append(set)
    }

    /// A fleet run for `steps` steps.
    static func run(seed: UInt64, replicas: Int, steps: Int) throws -> Fleet {
        var fleet = Fleet(seed: seed, replicas: replicas)
        for _ in 0..<steps { try fleet.step() }
        return fleet
    }

    /// The sets in a random order, some delivered twice, some delayed to the end.
    mutating func deliveryOrder() -> [ChangeSet] {
        var order = sets
        order.shuffle(using: &random)
        var delayed: [ChangeSet] = []
        var result: [ChangeSet] = []
        for set in order {
            if chance(10) { delayed.append(set) } else { result.append(set) }
            if chance(15) { result.insert(set, at: Int(random.next() % UInt64(result.count + 1))) }
        }
        return result + delayed
    }
}
