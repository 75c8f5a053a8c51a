import ConciergeCore

/// Who takes a case: the settled rule of the design (section 9), as a pure function of the
/// provider's routing table and the workloads of the people it could go to.
///
/// **Rule**: among the provider's agents, specialists and technicians who have the required
/// skill, are on shift and have capacity left on the case's channel: first whoever worked on this
/// customer's cases most recently, then the most spare capacity on the channel, then the fewest
/// open cases, then the smallest principal id. Past the provider's widening time with nobody
/// eligible, the skill requirement is dropped.
enum CaseRouter {
    /// Roles cases are routed to (supervisors take cases by hand).
    static let routedRoles: Set<Role> = [.agent, .specialist, .technician]

    /// What a case needs of its owner.
    struct Need: Sendable {
        var skill: String?
        var channel: Channel
        var customer: String?
        /// Whether the skill requirement is dropped (the case waited past the widening time).
        var widened: Bool
    }

    struct Choice: Hashable, Sendable {
        var principal: PrincipalID
        var reason: AssignmentEntry.Reason
        var candidates: Int
    }

    /// The roster members a case with `need` could go to, before their workloads are read: on
    /// shift, a routed role, the skill (unless widened), some capacity on the channel.
    static func pool(_ table: RoutingTable, for need: Need) -> [String] {
        table.roster.compactMap { id, entry in
            guard entry.onShift, entry.role.map(routedRoles.contains) ?? true,
                need.widened || need.skill.map(entry.skills.contains) ?? true,
                entry.capacity.on(need.channel) > 0
            else { return nil }
            return id
        }
    }

    /// The owner of a case with `need`, or `nil` when nobody can take it now.
    static func choose(_ need: Need, table: RoutingTable, workloads: [String: Workload]) -> Choice? {
        struct Ranked {
            var id: String
            var recency: Int64?
            var spare: Int
            var open: Int
        }
        let ranked = pool(table, for: need).compactMap { id -> Ranked? in
            let workload = workloads[id] ?? Workload()
            let spare = table.roster[id]!.capacity.on(need.channel) - workload.load(on: need.channel)
            guard spare > 0 else { return nil }
            return Ranked(
                id: id, recency: need.customer.flatMap { workload.recentCustomers[$0] }, spare: spare,
                open: workload.openCases.count)
        }
        .sorted { a, b in
            if a.recency != b.recency { return (a.recency ?? .min) > (b.recency ?? .min) }
            if a.spare != b.spare { return a.spare > b.spare }
            if a.open != b.open { return a.open < b.open }
            return utf8Precedes(a.id, b.id)
        }
        guard let first = ranked.first else { return nil }
        let reason: AssignmentEntry.Reason
        if first.recency != nil {
            reason = .continuity
        } else if let second = ranked.dropFirst().first, second.spare == first.spare {
            reason = second.open == first.open ? .tieBreak : .fewestOpenCases
        } else {
            reason = .spareCapacity
        }
        return Choice(principal: PrincipalID(first.id), reason: reason, candidates: ranked.count)
    }
}
