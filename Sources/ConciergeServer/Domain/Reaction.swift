import ConciergeCore
import Foundation
import Synchronization

/// A change the server derives while it accepts a push, inside the same transaction: today the
/// follow-up case, automatic assignment (``RoutingReaction``), a case resolved by a solved visit
/// report; next reminders due, SLA breaches. The derived set is written by the server's own
/// replica id (``ServerIdentity``) and appended to the change log right after the set that caused
/// it, with its audience and enter and leave events like any set, and is reacted to in turn (a few
/// sets deep). It is not run through the policies' `authorize` (the server is no principal of a
/// provider): a reaction keeps to what the rules allow by construction.
///
/// Effects outside the database (deliveries, webhooks, a search index) are not reactions: they
/// follow the change log after the commit.
protocol Reaction: Sendable {
    /// What the reaction will do about an accepted set: one plan per change it derives.
    func plans(for accepted: AcceptedSet) -> [ReactionPlan]
}

/// An accepted change set, with each record it touched before and after it.
struct AcceptedSet: Sendable {
    var set: ChangeSet
    var before: [RecordKey: LoadedRecord]
    var after: [RecordKey: LoadedRecord]
    var serverMillis: UInt64
}

/// One change a reaction derives: the records it reads whole, and the set it makes of them.
struct ReactionPlan: Sendable {
    /// Records to read whole (with every entry) before ``make``; absent keys have no record.
    var reads: [RecordKey]
    /// Further records to read whole, given those read so far (the routing table names whose
    /// workloads to read): asked again until it names no record not read yet.
    var more: (@Sendable (_ records: [RecordKey: Record]) -> [RecordKey])? = nil
    /// What to do once the records are read: `nil` when there is nothing to do (it was done
    /// before, or the provider does not route), else how to make the derived set from the server's
    /// identity (read and locked only then).
    var make: @Sendable (_ records: [RecordKey: Record]) -> Derive?

    typealias Derive = (_ server: inout ServerIdentity) -> ChangeSet
}

/// A replica's clock shared by everything that stamps for it at once: each stamp is ticked under
/// a lock, so two sets built side by side never carry the same stamp.
final class StampClock: Sendable {
    let replica: ReplicaID
    private let clock: Mutex<HybridLogicalClock>

    init(replica: ReplicaID, clock: HybridLogicalClock = HybridLogicalClock()) {
        self.replica = replica
        self.clock = Mutex(clock)
    }

    func nextStamp() -> Stamp {
        let wall = UInt64(Date().timeIntervalSince1970 * 1000)
        return Stamp(hlc: clock.withLock { $0.tick(wallMillis: wall) }, replica: replica)
    }

    var latest: HLC { clock.withLock { $0.latest } }
}

/// Builds a change set written by the server for an author (itself, or a channel integration
/// whose contact it takes in): stamps from `clock`, in the order of the calls.
struct SetBuilder {
    let author: Author
    let clock: StampClock
    var changes: [RecordChange] = []

    init(author: Author, clock: StampClock) {
        self.author = author
        self.clock = clock
    }

    func nextStamp() -> Stamp { clock.nextStamp() }

    /// Writes `value` to a declared register field of `key`.
    mutating func write(_ value: Value, to field: String, of key: RecordKey) {
        guard let declaration = Schema.current.declaration(of: field, on: key.type) else {
            preconditionFailure("\(field) is not a field of \(key.type)")
        }
        changes.append(
            RecordChange(
                key,
                .write(
                    field: field, value: value, base: nil, stamp: nextStamp(), history: declaration.history,
                    personal: declaration.personal)))
    }

    mutating func add(_ element: String, to field: String, of key: RecordKey) {
        changes.append(RecordChange(key, .add(field: field, element: element, stamp: nextStamp())))
    }

    mutating func append(
        _ kind: String, id: EntryID, to field: String, of key: RecordKey, payload: [String: Value] = [:],
        personal: [String: Value] = [:]
    ) {
        changes.append(
            RecordChange(
                key,
                .append(
                    field: field,
                    entry: NewEntry(id: id, stamp: nextStamp(), kind: kind, payload: payload, personal: personal))))
    }

    /// The set with id `seq` of the clock's replica.
    func finish(seq: UInt64) -> ChangeSet {
        ChangeSet(
            id: ChangeSetID(replica: clock.replica, seq: seq), author: author, schemaVersion: Schema.current.version,
            changes: changes)
    }
}

extension ServerIdentity {
    /// A change set written by the server itself, by its own replica id and clock: `build` adds
    /// its changes; the identity moves past the set (clock and number).
    mutating func makeSet(_ build: (inout SetBuilder) -> Void) -> ChangeSet {
        var builder = SetBuilder(author: Self.author, clock: StampClock(replica: replica, clock: clock))
        build(&builder)
        clock = HybridLogicalClock(latest: builder.clock.latest)
        return builder.finish(seq: nextSeq())
    }
}
