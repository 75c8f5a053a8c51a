import ConciergeCore
import Foundation

/// Change sets of 5 register writes on one case; every tenth also appends a timeline entry.
public struct SetMaker: Sendable {
    public let replica: ReplicaID
    public let author: Author
    var clock = HybridLogicalClock()
    var seq: UInt64 = 0
    var random: SplitMix64
    static let fields: [(String, Bool, Bool)] = [
        (CaseFields.priority, true, false), (CaseFields.category, true, false), (CaseFields.summary, true, true),
        (CaseFields.subject, false, true), (CaseFields.originChannel, false, false), (CaseFields.rating, false, false),
    ]

    public init(replica: ReplicaID, author: Author, random: SplitMix64) {
        self.replica = replica
        self.author = author
        self.random = random
    }

    public mutating func make(cases: [String]) -> ChangeSet {
        seq += 1
        let key = RecordKey(type: .serviceCase, id: RecordID(cases[Int(random.next() % UInt64(cases.count))]))
        var changes: [RecordChange] = []
        let wall = UInt64(Date().timeIntervalSince1970 * 1000)
        for (field, history, personal) in Self.fields.shuffled(using: &random).prefix(5) {
            let value: Value =
                field == CaseFields.rating ? .int(Int64(random.next() % 5) + 1) : .string("v\(random.next() % 1000)")
            changes.append(
                RecordChange(
                    key,
                    .write(
                        field: field, value: value, base: nil,
                        stamp: Stamp(hlc: clock.tick(wallMillis: wall), replica: replica),
                        history: history, personal: personal)))
        }
        if seq % 10 == 0 {
            changes.append(
                RecordChange(
                    key,
                    .append(
                        field: CaseFields.timeline,
                        entry: NewEntry(
                            id: EntryID("\(replica)-\(seq)"),
                            stamp: Stamp(hlc: clock.tick(wallMillis: wall), replica: replica),
                            kind: EntryKind.note, personal: ["body": "load test note"]))))
        }
        return ChangeSet(
            id: ChangeSetID(replica: replica, seq: seq), author: author, schemaVersion: 1,
            changes: changes)
    }
}

/// What pushes achieved: register writes in accepted (or duplicate) sets, sets rejected, and each
/// batch's round trip.
public struct PushTally: Sendable {
    public var writes = 0
    public var rejected = 0
    public var milliseconds: [Double] = []

    public init() {}

    /// Counts a pushed batch by its outcomes; `milliseconds` is its round trip, if timed.
    public mutating func count(_ batch: [ChangeSet], _ outcomes: [PushOutcome], milliseconds: Double? = nil) {
        if let milliseconds { self.milliseconds.append(milliseconds) }
        for (set, outcome) in zip(batch, outcomes) {
            if outcome.status == .rejected {
                rejected += 1
            } else {
                writes += set.changes.filter { if case .write = $0.change { true } else { false } }.count
            }
        }
    }

    public mutating func add(_ other: PushTally) {
        writes += other.writes
        rejected += other.rejected
        milliseconds += other.milliseconds
    }
}

extension SetMaker {
    /// The change set that opens bench case `index` with id `id`: provider, customer, a required
    /// skill (one of `skills`) and a subject, as `make bench-server` and `make bench-store` seed them.
    public static func seedCase(
        _ id: String, index: Int, provider: ProviderID, skills: Int, replica: ReplicaID, author: Author,
        clock: inout HybridLogicalClock
    ) -> ChangeSet {
        let key = RecordKey(type: .serviceCase, id: RecordID(id))
        let wall = UInt64(Date().timeIntervalSince1970 * 1000)
        var changes: [RecordChange] = []
        for (field, value, history, personal) in [
            (CaseFields.provider, provider.rawValue, false, false),
            (CaseFields.customer, "cust-\(index)", false, false),
            (CaseFields.requiredSkill, "s\(index % skills)", true, false),
            (CaseFields.subject, "Bench case", false, true),
        ] {
            changes.append(
                RecordChange(
                    key,
                    .write(
                        field: field, value: .string(value), base: nil,
                        stamp: Stamp(hlc: clock.tick(wallMillis: wall), replica: replica), history: history,
                        personal: personal)))
        }
        return ChangeSet(
            id: ChangeSetID(replica: replica, seq: UInt64(index + 1)), author: author, schemaVersion: 1,
            changes: changes)
    }
}
