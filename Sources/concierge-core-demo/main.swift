// A walk through the core until the sync server and the CLI exist (they arrive with their own
// issues): a customer's phone and an agent's desk edit one case offline, then sync through a small
// in-process hub that acknowledges pushes, numbers the log, and leaves internal notes out of what
// a customer pulls, as the server will.
import ConciergeCore

final class DemoClock: WallClock, @unchecked Sendable {
    var millis: UInt64 = 1_795_000_000_000
    func nowMillis() -> UInt64 { millis }
}

/// Accepts every set, appends it to a log, and serves each principal its projection.
final class DemoHub {
    var log: [ChangeSet] = []

    func sync(_ replica: Replica<InMemoryReplicaStore>) throws {
        let batch = try replica.nextPushBatch(limit: 100)
        var outcomes: [PushOutcome] = []
        for set in batch {
            log.append(set)
            outcomes.append(.accepted(set.id, at: Cursor(epoch: "demo", seq: UInt64(log.count))))
        }
        _ = try replica.applyPushResponse(PushResponse(outcomes: outcomes, serverMillis: 0))
        let metadata = try replica.metadata()
        let from = Int(metadata.cursor?.seq ?? 0)
        let events = log[from...].map { set -> PullEvent in
            guard metadata.author.role == .customer else { return .changeSet(set) }
            var projected = set
            projected.changes.removeAll { change in
                if case .append(_, let entry) = change.change { return EntryKind.internalKinds.contains(entry.kind) }
                return false
            }
            return .changeSet(projected)
        }
        _ = try replica.applyPullResponse(
            .page(PullPage(events: events, cursor: Cursor(epoch: "demo", seq: UInt64(log.count)), hasMore: false)))
    }
}

func show(_ title: String, _ replica: Replica<InMemoryReplicaStore>, _ key: RecordKey) throws {
    guard let record = try replica.visibleRecord(key), let serviceCase = ServiceCase(record) else { return }
    print("\n== \(title) ==")
    print("subject: \(serviceCase.subject ?? "-")")
    print("status:  \(serviceCase.status)    priority: \(serviceCase.priority ?? "-")")
    for entry in serviceCase.timeline {
        let who = "\(entry.author.principal)\(serviceCase.isVerified(entry) ? " (verified via app)" : "")"
        let text =
            entry.personal["body"]?.stringValue ?? entry.payload["to"]?.stringValue.map { "status -> \($0)" } ?? ""
        print(
            "  \(entry.kind.padding(toLength: 13, withPad: " ", startingAt: 0)) \(who.padding(toLength: 30, withPad: " ", startingAt: 0)) \(text)"
        )
    }
    for (field, groups) in serviceCase.conflicts.sorted(by: { $0.key < $1.key }) {
        for group in groups {
            let values = group.writes.map { "\"\($0.value.stringValue ?? "-")\" by \($0.author.principal)" }
            print(
                "  ! \(field) was changed concurrently: \(values.joined(separator: " and ")); kept \"\(group.kept.value.stringValue ?? "-")\""
            )
        }
    }
}

let clock = DemoClock()
let hub = DemoHub()
let caseKey = RecordKey(type: .serviceCase, id: RecordID("5b1f3c2e-8f4a-4d7e-9c6b-2a1d0e9f8a7b"))
let customer = Author(principal: PrincipalID("cust-anna"), role: .customer)
let agent = Author(principal: PrincipalID("agent-ben"), role: .agent)
let phone = Replica(store: InMemoryReplicaStore(replica: ReplicaID.random(), author: customer), wallClock: clock)
let desk = Replica(store: InMemoryReplicaStore(replica: ReplicaID.random(), author: agent), wallClock: clock)
let supervisor = Author(principal: PrincipalID("lead-carla"), role: .supervisor)
let tablet = Replica(store: InMemoryReplicaStore(replica: ReplicaID.random(), author: supervisor), wallClock: clock)

print("1. Anna opens a case from her phone; it syncs, and Ben's desk receives it.")
try phone.edit { editor in
    try editor.write(.string(customer.principal.rawValue), to: CaseFields.customer, of: caseKey)
    try editor.write("Router drops the connection every evening", to: CaseFields.subject, of: caseKey)
    try editor.write("normal", to: CaseFields.priority, of: caseKey)
    try editor.append(
        EntryKind.message, to: CaseFields.timeline, of: caseKey,
        payload: ["channel": "app", "direction": "inbound"], personal: ["body": "Since Monday, 8pm"])
}
try hub.sync(phone)
try hub.sync(desk)
try hub.sync(tablet)

print("2. Both go offline. Ben opens the case, writes an internal note, sets priority \"urgent\"")
print("   and marks the case pending (waiting for Anna).")
clock.millis += 60_000
try desk.edit { editor in
    try editor.append(
        EntryKind.statusChange, to: CaseFields.timeline, of: caseKey, payload: ["from": "new", "to": "open"])
    try editor.append(
        EntryKind.note, to: CaseFields.timeline, of: caseKey, personal: ["body": "Line test: noise on pair 2"])
    try editor.write("urgent", to: CaseFields.priority, of: caseKey)
    try editor.append(
        EntryKind.statusChange, to: CaseFields.timeline, of: caseKey, payload: ["from": "open", "to": "pending"])
}
print("3. A minute later, still offline, Anna replies, and Carla (a supervisor, offline on the")
print("   floor with her tablet) sets the priority to \"high\" without having seen Ben's change.")
clock.millis += 60_000
try phone.edit { editor in
    try editor.append(
        EntryKind.message, to: CaseFields.timeline, of: caseKey,
        payload: ["channel": "app", "direction": "inbound"], personal: ["body": "It happened again just now"])
}
try tablet.edit { editor in try editor.write("high", to: CaseFields.priority, of: caseKey) }
print("4. Everyone comes back online and syncs.")
for replica in [desk, phone, tablet, desk, phone] { try hub.sync(replica) }

try show("Ben's desk (agent)", desk, caseKey)
try show("Anna's phone (customer: internal notes never reach her)", phone, caseKey)
print(
    """

    What happened: the status is open, not pending, because Anna wrote after Ben set pending. Ben and
    Carla set the priority concurrently: every replica shows that, and all keep the later write. Her messages
    show as verified: they came from her enrolled phone, so nobody asks for her customer number.
    """)
