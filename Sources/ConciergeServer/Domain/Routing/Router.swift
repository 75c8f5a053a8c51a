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
        /// Whether the skill requirement is dropped (the case waited past the widening time).
        var widened: Bool
    }

    struct Choice: Hashable, Sendable {
        var principal: PrincipalID
        var reason: AssignmentEntry.Reason
        var candidates: Int
    }

    /// The roster's members on shift in a routed role, by skill: whom to look at.
    struct RosterIndex: Sendable {
        typealias Member = (id: String, entry: RoutingTable.Entry)
        let routed: [Member]
        let bySkill: [String: [Member]]

        init(_ table: RoutingTable) {
            var routed: [Member] = []
            var bySkill: [String: [Member]] = [:]
            for (id, entry) in table.roster where entry.onShift && entry.role.map(routedRoles.contains) ?? true {
                routed.append((id, entry))
                for skill in entry.skills { bySkill[skill, default: []].append((id, entry)) }
            }
            self.routed = routed
            self.bySkill = bySkill
        }

        /// The members a case with `need` could go to, before their workloads are read: on shift,
        /// a routed role, the skill (unless widened), some capacity on the channel.
        func pool(for need: Need) -> [Member] {
            let members = !need.widened && need.skill != nil ? bySkill[need.skill!] ?? [] : routed
            return members.filter { $0.entry.capacity.on(need.channel) > 0 }
        }
    }

    /// The owner of a case with `need`, or `nil` when nobody can take it now.
    /// - Parameter workedWith: who worked on the customer's cases, and when (their `continuity`).
    static func choose(_ need: Need, index: RosterIndex, workloads: [String: Workload], workedWith: [String: Int64])
        -> Choice?
    {
        struct Ranked {
            var id: String
            var recency: Int64?
            var spare: Int
            var open: Int

            /// Whether `self` goes before `other` by the rule.
            func precedes(_ other: Ranked) -> Bool {
                if recency != other.recency { return (recency ?? .min) > (other.recency ?? .min) }
                if spare != other.spare { return spare > other.spare }
                if open != other.open { return open < other.open }
                return utf8Precedes(id, other.id)
            }
        }
        // One pass, keeping the best two (the second says why the first won).
        var (first, second): (Ranked?, Ranked?) = (nil, nil)
        var candidates = 0
        for (id, entry) in index.pool(for: need) {
            let workload = workloads[id] ?? Workload()
            let spare = entry.capacity.on(need.channel) - workload.load(on: need.channel)
            guard spare > 0 else { continue }
            candidates += 1
            let ranked = Ranked(
                id: id, recency: workedWith[id], spare: spare,
                open: workload.openCases.count)
            if let best = first, !ranked.precedes(best) {
                if second.map(ranked.precedes) ?? true { second = ranked }
            } else {
                second = first
                first = ranked
            }
        }
        guard let first else { return nil }
        let reason: AssignmentEntry.Reason
        if first.recency != nil {
            reason = .continuity
        } else if let second, second.spare == first.spare {
            reason = second.open == first.open ? .tieBreak : .fewestOpenCases
        } else {
            reason = .spareCapacity
        }
        return Choice(principal: PrincipalID(first.id), reason: reason, candidates: candidates)
    }
}
