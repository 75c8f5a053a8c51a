import ConciergeCore

/// The field technician's entries on a case (check-in, check-out, the visit report): written only
/// by the technician the case is assigned to, a report of the right shape.
enum FieldWorkChecks {
    static func authorize(_ entry: NewEntry, in write: RecordWrite) throws(SyncError) {
        guard Editor.fieldWorkKinds.contains(entry.kind) else { return }
        let principal = write.principal
        guard principal.role == .technician else {
            throw SyncError(.forbiddenField, "\(entry.kind) entries are the assigned technician's")
        }
        guard write.after.value(CaseFields.assignee)?.stringValue == principal.id.rawValue else {
            throw SyncError(
                .outOfScope, "the case is not assigned to \(principal.id); only its technician reports on it")
        }
        switch entry.kind {
        case EntryKind.visitReport:
            if let problem = VisitReportEntry.problem(payload: entry.payload, personal: entry.personal) {
                throw SyncError(.malformed, problem)
            }
        default:
            guard entry.payload["at"]?.intValue != nil else {
                throw SyncError(.malformed, "a \(entry.kind) says when it happened (at, ms since 1970)")
            }
        }
    }
}

/// A visit report that says the problem is solved moves the case to `resolved` (through `open` from
/// `new`), for the agent to close; a case already resolved or closed stays as it is.
struct SolvedVisitReaction: Reaction {
    func plans(for accepted: AcceptedSet) -> [ReactionPlan] {
        var plans: [ReactionPlan] = []
        for change in accepted.set.changes {
            guard change.key.type == .serviceCase, case .append(CaseFields.timeline, let entry) = change.change,
                entry.kind == EntryKind.visitReport, entry.payload["solved"] == .bool(true)
            else { continue }
            let key = change.key
            plans.append(
                ReactionPlan(reads: [key]) { records in
                    guard let view = records[key].flatMap(ServiceCase.init), !view.record.isDeleted else { return nil }
                    let path: [CaseStatus]
                    switch view.status {
                    case .new: path = [.new, .open, .resolved]
                    case .open, .pending, .onHold: path = [view.status, .resolved]
                    case .resolved, .closed: return nil
                    }
                    return { server in
                        server.makeSet { builder in
                            for (index, (from, to)) in zip(path, path.dropFirst()).enumerated() {
                                builder.append(
                                    EntryKind.statusChange, id: EntryID("solved-\(entry.id)-\(index)"),
                                    to: CaseFields.timeline, of: key,
                                    payload: ["from": .string(from.rawValue), "to": .string(to.rawValue)])
                            }
                        }
                    }
                })
        }
        return plans
    }
}
