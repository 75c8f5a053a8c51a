import ConciergeCore

/// A change the server derives while it accepts a push, inside the same transaction: today the
/// follow-up case; next automatic assignment, reminders due, SLA breaches. The derived set is
/// written by the server's own replica id (``ServerIdentity``) and appended to the change log right
/// after the set that caused it, with its audience and enter and leave events like any set. It is
/// not run through the policies' `authorize` (the server is no principal of a provider): a
/// reaction keeps to what the rules allow by construction.
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
    /// The derived set, or `nil` when, once read, there is nothing to do (it was done before).
    var make: @Sendable (_ records: [RecordKey: Record], _ server: inout ServerIdentity) -> ChangeSet?
}

/// Builds a change set written by the server itself.
struct ServerSetBuilder {
    var server: ServerIdentity
    var changes: [RecordChange] = []

    init(_ server: ServerIdentity) { self.server = server }

    /// Writes `value` to a declared register field of `key`.
    mutating func write(_ value: Value, to field: String, of key: RecordKey) {
        guard let declaration = Schema.current.declaration(of: field, on: key.type) else {
            preconditionFailure("\(field) is not a field of \(key.type)")
        }
        changes.append(
            RecordChange(
                key,
                .write(
                    field: field, value: value, base: nil, stamp: server.nextStamp(), history: declaration.history,
                    personal: declaration.personal)))
    }

    mutating func add(_ element: String, to field: String, of key: RecordKey) {
        changes.append(RecordChange(key, .add(field: field, element: element, stamp: server.nextStamp())))
    }

    mutating func append(
        _ kind: String, id: EntryID, to field: String, of key: RecordKey, payload: [String: Value] = [:]
    ) {
        changes.append(
            RecordChange(
                key,
                .append(
                    field: field, entry: NewEntry(id: id, stamp: server.nextStamp(), kind: kind, payload: payload))))
    }

    /// The set, and the server's identity advanced past it.
    mutating func finish() -> ChangeSet {
        ChangeSet(
            id: ChangeSetID(replica: server.replica, seq: server.nextSeq()), author: ServerIdentity.author,
            schemaVersion: Schema.current.version, changes: changes)
    }
}
