import ConciergeCore

/// When a customer message reaches a case that was already closed, the server opens the one
/// follow-up case of that case (`UUIDv5(caseID, "follow-up")`), where the conversation continues,
/// and links the two both ways. The message stays on the closed case's timeline.
struct FollowUpReaction: Reaction {
    /// The fields the follow-up copies from the closed case.
    static let copiedFields = [
        CaseFields.provider, CaseFields.customer, CaseFields.subject, CaseFields.category, CaseFields.originChannel,
    ]

    func plans(for accepted: AcceptedSet) -> [ReactionPlan] {
        var plans: [ReactionPlan] = []
        for key in accepted.set.keys where key.type == .serviceCase {
            let appended = accepted.set.changes.compactMap { change -> NewEntry? in
                guard change.key == key, case .append(CaseFields.timeline, let entry) = change.change else {
                    return nil
                }
                return entry
            }
            // Closed dominates every other status, so the status changes alone tell a closed case.
            guard !appended.isEmpty, let before = accepted.before[key],
                before.entries(EntryKind.statusChange, in: CaseFields.timeline).contains(where: {
                    $0.payload["to"] == .string(CaseStatus.closed.rawValue)
                }),
                let after = accepted.after[key], let view = ServiceCase(after.partial),
                let message = appended.lazy.compactMap({ after.entry($0.id, in: CaseFields.timeline) }).first(
                    where: view.isCustomerMessage)
            else { continue }
            let followUpID = FollowUp.caseID(for: key.id)
            let followUp = RecordKey(type: .serviceCase, id: followUpID)
            plans.append(
                ReactionPlan(reads: [followUp, key]) { records in
                    guard records[followUp] == nil, let closed = records[key] else { return nil }
                    return { server in
                        Self.followUpSet(of: closed, message: message.id, followUp: followUp, server: &server)
                    }
                })
        }
        return plans
    }

    /// The server's change set that opens the follow-up of a closed case (`closed`, whole): it
    /// copies provider, customer, subject, category and origin, starts the timeline with an entry
    /// that links the closed case and the message, and links the two cases both ways.
    static func followUpSet(of closed: Record, message: EntryID, followUp: RecordKey, server: inout ServerIdentity)
        -> ChangeSet
    {
        server.makeSet { builder in
            for field in copiedFields {
                guard let value = closed.value(field) else { continue }
                builder.write(value, to: field, of: followUp)
            }
            builder.add(closed.id.rawValue, to: CaseFields.links, of: followUp)
            builder.append(
                EntryKind.followUp, id: EntryID("follow-up-of-\(closed.id)"), to: CaseFields.timeline, of: followUp,
                payload: ["case": .string(closed.id.rawValue), "message": .string(message.rawValue)])
            builder.add(followUp.id.rawValue, to: CaseFields.links, of: closed.key)
        }
    }
}
