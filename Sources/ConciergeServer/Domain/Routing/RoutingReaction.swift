import ConciergeCore
import Foundation
import Synchronization

/// Automatic assignment, and the bookkeeping it rests on, inside the push that calls for it.
///
/// - A case that needs an owner (new, or its assignee emptied by `assign --auto`, open, not
///   merged) is assigned by ``CaseRouter``; an `assignment` entry says to whom and why. Nobody can
///   take it: it waits in the routing record's `waiting` list.
/// - Whenever a case's assignee, status or existence changes, the workloads of the people
///   concerned follow (their `openCases`, and the customer's `continuity`); when that frees
///   capacity, or a staff member's directory entry changes (on shift, more capacity, a new
///   skill), the oldest waiting cases are tried again (at most ``drainLimit`` at a time).
/// - A staff record's change is copied into the routing record's roster, which routing reads.
///
/// A provider with no directory (an empty roster) is not routed: its cases wait for staff to
/// take them, as before.
struct RoutingReaction: Reaction {
    /// How many waiting cases one change tries again.
    static let drainLimit = 10

    /// Case fields whose change may change who owns the case, or whether it needs one.
    static let caseFields: Set<String> = [
        CaseFields.assignee, CaseFields.requiredSkill, CaseFields.category, CaseFields.originChannel,
        MergeFields.mergedInto,
    ]

    func plans(for accepted: AcceptedSet) -> [ReactionPlan] {
        var plans: [ReactionPlan] = []
        let now = Int64(accepted.serverMillis)
        for key in accepted.set.keys {
            let changes = accepted.set.changes.lazy.filter { $0.key == key }.map(\.change)
            let record = accepted.after[key] ?? accepted.before[key]
            switch key.type {
            case .serviceCase:
                guard accepted.before[key] == nil || changes.contains(where: Self.mayMoveOwner),
                    let provider = record?.value(CaseFields.provider)?.stringValue
                else { continue }
                plans.append(
                    Self.casePlan(
                        key, provider: provider,
                        previous: accepted.before[key]?.value(CaseFields.assignee)?.stringValue,
                        now: now))
            case .staff:
                guard let provider = record?.value(StaffFields.provider)?.stringValue else { continue }
                plans.append(Self.staffPlan(key, provider: provider, now: now))
            default:
                continue
            }
        }
        return plans
    }

    static func mayMoveOwner(_ change: Change) -> Bool {
        switch change {
        case .write(let field, _, _, _, _, _): return caseFields.contains(field)
        case .append(_, let entry): return entry.kind == EntryKind.statusChange
        case .delete: return true
        default: return false
        }
    }

    /// A case changed: keep the workloads, route it if it needs an owner, and try waiting cases
    /// again when it freed someone's capacity. The routing record is read first: a provider
    /// without a directory reads nothing more.
    static func casePlan(_ key: RecordKey, provider: String, previous: String?, now: Int64) -> ReactionPlan {
        let routing = RoutingWork.routingKey(provider)
        return ReactionPlan(
            reads: [routing],
            more: { records in
                let work = RoutingWork(records, provider: provider, now: now)
                guard work.isOn else { return [] }
                let view = records[key].flatMap(ServiceCase.init)
                var keys = [previous, view?.assignee?.rawValue].compactMap { $0 }.map(RoutingWork.workloadKey)
                if let customer = view?.customer { keys.append(RoutingWork.continuityKey(customer.rawValue)) }
                if let view, work.needsOwner(view) { keys += work.poolKeys(for: view) }
                if previous != nil, previous != view?.assignee?.rawValue || !work.isOpen(view) {
                    keys += work.drainKeys(records)
                }
                return [key] + keys
            },
            make: { records in
                var work = RoutingWork(records, provider: provider, now: now)
                guard work.isOn else { return nil }
                let view = records[key].flatMap(ServiceCase.init)
                let current = view?.assignee?.rawValue
                let open = work.isOpen(view)
                var freed = false
                if let previous, previous != current || !open {
                    freed = work.release(key.id.rawValue, from: previous)
                }
                if let view, let current, open { work.hold(view, by: current) }
                if let view, work.needsOwner(view) {
                    work.route(view)
                } else {
                    work.stopWaiting(key.id.rawValue)
                }
                if freed { work.drain(records) }
                return work.derive()
            })
    }

    /// A staff member's directory entry changed: copy it into the roster, and try waiting cases
    /// again (they may take some now).
    static func staffPlan(_ key: RecordKey, provider: String, now: Int64) -> ReactionPlan {
        let routing = RoutingWork.routingKey(provider)
        @Sendable func work(_ records: [RecordKey: Record]) -> RoutingWork {
            var work = RoutingWork(records, provider: provider, now: now)
            work.copy(records[key].flatMap(StaffMember.init), id: key.id.rawValue)
            return work
        }
        return ReactionPlan(
            reads: [routing, key],
            more: { records in work(records).drainKeys(records) },
            make: { records in
                var work = work(records)
                work.drain(records)
                return work.derive()
            })
    }
}

/// The routing state one plan reads and changes: the provider's table, the workloads read, and
/// what it changed, which ``changeSet(_:)`` writes as one server set.
struct RoutingWork {
    static func routingKey(_ provider: String) -> RecordKey { RecordKey(type: .routing, id: RecordID(provider)) }
    static func workloadKey(_ id: String) -> RecordKey { RecordKey(type: .workload, id: RecordID(id)) }
    static func continuityKey(_ customer: String) -> RecordKey { RecordKey(type: .continuity, id: RecordID(customer)) }

    let provider: String
    let now: Int64
    var table: RoutingTable
    /// The roster's index.
    var index: CaseRouter.RosterIndex
    let records: [RecordKey: Record]
    var workloads: [String: Workload] = [:]
    var changedWorkloads: Set<String> = []
    var continuities: [String: Continuity] = [:]
    var changedContinuities: Set<String> = []
    var rosterChanged = false
    var waitingChanged = false
    var assignments: [(key: RecordKey, choice: CaseRouter.Choice, need: CaseRouter.Need)] = []
    /// Required skills suggested by the table for cases that named none.
    var suggestedSkills: [RecordKey: String] = [:]

    init(_ records: [RecordKey: Record], provider: String, now: Int64) {
        self.provider = provider
        self.now = now
        self.records = records
        (table, index) = Decoded.tables.value(of: records[Self.routingKey(provider)], fields: RoutingFields.all) {
            let table = RoutingTable($0)
            return (table, CaseRouter.RosterIndex(table))
        }
    }

    /// Whether the provider routes at all: it has a directory.
    var isOn: Bool { !table.roster.isEmpty }

    /// Whether the case counts in its assignee's workload: it exists, is not merged, resolved or
    /// closed.
    func isOpen(_ view: ServiceCase?) -> Bool {
        guard let view, !view.record.isDeleted, view.record.mergeMarker == nil else { return false }
        return view.status != .resolved && view.status != .closed
    }

    func needsOwner(_ view: ServiceCase) -> Bool {
        view.assignee == nil && isOpen(view) && view.provider?.rawValue == provider
    }

    /// What the case needs of its owner; `widened` when it has waited past the widening time.
    func need(of view: ServiceCase, widened: Bool = false) -> CaseRouter.Need {
        CaseRouter.Need(
            skill: view.requiredSkill ?? view.category.flatMap { table.skillByCategory[$0] },
            channel: view.originChannel ?? .app, widened: widened)
    }

    /// Whether the case has waited past the provider's widening time.
    func mayWiden(_ view: ServiceCase) -> Bool {
        guard let minutes = table.wideningMinutes, need(of: view).skill != nil else { return false }
        return now - (table.waiting[view.record.id.rawValue] ?? now) >= Int64(minutes) * 60_000
    }

    /// The workloads routing `view` reads, and its customer's continuity.
    func poolKeys(for view: ServiceCase) -> [RecordKey] {
        index.pool(for: need(of: view, widened: mayWiden(view))).map { Self.workloadKey($0.id) }
            + (view.customer.map { [Self.continuityKey($0.rawValue)] } ?? [])
    }

    /// The oldest waiting cases, and once they are read the workloads routing them reads.
    func drainKeys(_ records: [RecordKey: Record]) -> [RecordKey] {
        var keys: [RecordKey] = []
        for key in oldestWaiting() {
            keys.append(key)
            if let view = records[key].flatMap(ServiceCase.init), needsOwner(view) { keys += poolKeys(for: view) }
        }
        return keys
    }

    func oldestWaiting() -> [RecordKey] {
        table.waiting.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.prefix(RoutingReaction.drainLimit).map {
            RecordKey(type: .serviceCase, id: RecordID($0.key))
        }
    }

    mutating func workload(_ id: String) -> Workload {
        if let held = workloads[id] { return held }
        // The server writes a workload's fields together: the stamp of one versions them all.
        let workload = Decoded.workloads.value(of: records[Self.workloadKey(id)], fields: [WorkloadFields.openCases]) {
            Workload($0)
        }
        workloads[id] = workload
        return workload
    }

    /// Takes the case off `id`'s workload; whether it was on it.
    mutating func release(_ caseID: String, from id: String) -> Bool {
        var workload = workload(id)
        guard workload.close(caseID) else { return false }
        workloads[id] = workload
        changedWorkloads.insert(id)
        return true
    }

    mutating func continuity(_ customer: String) -> Continuity {
        if let held = continuities[customer] { return held }
        let continuity = Continuity(records[Self.continuityKey(customer)])
        continuities[customer] = continuity
        return continuity
    }

    /// Puts the case on `id`'s workload (once), and notes in the customer's continuity that they
    /// worked on it.
    mutating func hold(_ view: ServiceCase, by id: String) {
        var workload = workload(id)
        guard workload.open(view.record.id.rawValue, on: (view.originChannel ?? .app).rawValue) else { return }
        workloads[id] = workload
        changedWorkloads.insert(id)
        guard let customer = view.customer?.rawValue else { return }
        var continuity = continuity(customer)
        continuity.worked(id, at: now)
        continuities[customer] = continuity
        changedContinuities.insert(customer)
    }

    mutating func stopWaiting(_ caseID: String) {
        if table.waiting.removeValue(forKey: caseID) != nil { waitingChanged = true }
    }

    /// Copies a staff member's directory entry into the roster (`nil`: gone from the directory).
    mutating func copy(_ member: StaffMember?, id: String) {
        let entry = member.flatMap { $0.record.isDeleted ? nil : RoutingTable.Entry($0) }
        guard table.roster[id] != entry else { return }
        table.roster[id] = entry
        rosterChanged = true
        index = CaseRouter.RosterIndex(table)
    }

    /// Assigns the case, or keeps it waiting.
    mutating func route(_ view: ServiceCase) {
        let caseID = view.record.id.rawValue
        var need = need(of: view)
        if view.requiredSkill == nil, let skill = need.skill { suggestedSkills[view.record.key] = skill }
        var workloads: [String: Workload] = [:]
        let workedWith = view.customer.map { continuity($0.rawValue).workedWith } ?? [:]
        func choose(_ need: CaseRouter.Need) -> CaseRouter.Choice? {
            for (id, _) in index.pool(for: need) where workloads[id] == nil { workloads[id] = workload(id) }
            return CaseRouter.choose(need, index: index, workloads: workloads, workedWith: workedWith)
        }
        var choice = choose(need)
        if choice == nil, mayWiden(view) {
            need.widened = true
            choice = choose(need)
        }
        guard let choice else {
            if table.waiting[caseID] == nil {
                table.waiting[caseID] = now
                waitingChanged = true
            }
            return
        }
        stopWaiting(caseID)
        assignments.append((view.record.key, choice, need))
        hold(view, by: choice.principal.rawValue)
    }

    /// Tries the oldest waiting cases again.
    mutating func drain(_ records: [RecordKey: Record]) {
        for key in oldestWaiting() {
            guard let view = records[key].flatMap(ServiceCase.init), needsOwner(view),
                !assignments.contains(where: { $0.key == key })
            else {
                stopWaiting(key.id.rawValue)
                continue
            }
            route(view)
        }
    }

    /// How to make the server's set for what changed, or `nil` when nothing did.
    func derive() -> ReactionPlan.Derive? {
        guard
            !assignments.isEmpty || !changedWorkloads.isEmpty || !changedContinuities.isEmpty
                || !suggestedSkills.isEmpty || rosterChanged
                || waitingChanged
        else { return nil }
        return { server in changeSet(&server) }
    }

    /// The server's set for what changed.
    func changeSet(_ server: inout ServerIdentity) -> ChangeSet {
        let routing = Self.routingKey(provider)
        return server.makeSet { builder in
            for (key, skill) in suggestedSkills.sorted(by: { utf8Precedes($0.key.id.rawValue, $1.key.id.rawValue) }) {
                builder.write(.string(skill), to: CaseFields.requiredSkill, of: key)
            }
            for (key, choice, need) in assignments {
                builder.write(.string(choice.principal.rawValue), to: CaseFields.assignee, of: key)
                let entry = AssignmentEntry(
                    to: choice.principal, reason: choice.reason, skill: need.skill, widened: need.widened,
                    candidates: choice.candidates)
                builder.append(
                    EntryKind.assignment, id: EntryID("assignment-\(UUID().uuidString.lowercased())"),
                    to: CaseFields.timeline, of: key, payload: entry.payload)
            }
            for id in changedWorkloads.sorted(by: utf8Precedes) {
                let key = Self.workloadKey(id)
                let workload = workloads[id]!
                if records[key] == nil { builder.write(.string(provider), to: WorkloadFields.provider, of: key) }
                builder.write(workload.value, to: WorkloadFields.openCases, of: key)
            }
            for customer in changedContinuities.sorted(by: utf8Precedes) {
                let key = Self.continuityKey(customer)
                if records[key] == nil { builder.write(.string(provider), to: ContinuityFields.provider, of: key) }
                builder.write(continuities[customer]!.value, to: ContinuityFields.workedWith, of: key)
            }
            if rosterChanged { builder.write(table.rosterValue, to: RoutingFields.roster, of: routing) }
            if waitingChanged { builder.write(table.waitingValue, to: RoutingFields.waiting, of: routing) }
        }
    }
}

/// Routing tables and workloads as last decoded, by record and the stamps of their values: the
/// roster of a thousand staff is decoded once per change, not once per case routed.
enum Decoded {
    static let tables = DecodedCache<(RoutingTable, CaseRouter.RosterIndex)>(limit: 1_000)
    static let workloads = DecodedCache<Workload>(limit: 100_000)
}

/// Values decoded from records, kept while the record's registers hold the same writes (each
/// write's stamp is unique, so equal stamps mean equal values).
final class DecodedCache<Decoded: Sendable>: Sendable {
    private struct Entry {
        var version: [Stamp?]
        var value: Decoded
    }

    private let entries = Mutex<[RecordKey: Entry]>([:])
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// `record` decoded by `decode`, from the cache when the registers `fields` have not changed.
    func value(of record: Record?, fields: [String], _ decode: (Record?) -> Decoded) -> Decoded {
        guard let record else { return decode(nil) }
        let version = fields.map { record.register($0)?.latest.stamp }
        if let held = entries.withLock({ $0[record.key] }), held.version == version { return held.value }
        let value = decode(record)
        entries.withLock { entries in
            if entries.count >= limit { entries.removeAll(keepingCapacity: true) }
            entries[record.key] = Entry(version: version, value: value)
        }
        return value
    }
}
