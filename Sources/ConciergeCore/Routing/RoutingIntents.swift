/// What supervisors and staff do to the directory and the routing table, with the checks the
/// server makes, early.
extension Editor {
    /// A change to a staff member's directory entry; `nil` members stay as they are.
    public struct StaffChange: Sendable {
        public var provider: ProviderID
        public var displayName: String?
        public var role: Role?
        public var addSkills: [String] = []
        public var removeSkills: [String] = []
        public var capacity: Capacity?
        public var homeRegion: String?

        public init(provider: ProviderID) { self.provider = provider }
    }

    /// Roles a directory entry may name: the provider's staff.
    public static let staffRoles: Set<Role> = [.agent, .specialist, .technician, .supervisor]

    /// Writes a staff member's directory entry (supervisors). The server checks that `id` names a
    /// staff principal of the provider.
    public mutating func setStaff(_ id: PrincipalID, _ change: StaffChange) throws {
        guard author.role == .supervisor else {
            throw CaseIntentError(.forbiddenField, "supervisors manage the staff directory")
        }
        if let role = change.role, !Self.staffRoles.contains(role) {
            throw CaseIntentError(
                .malformed, "a staff member is an agent, a specialist, a technician or a supervisor, not \(role)")
        }
        let key = RecordKey(type: .staff, id: RecordID(id.rawValue))
        if try record(key)?.value(StaffFields.provider) == nil {
            try write(.string(change.provider.rawValue), to: StaffFields.provider, of: key)
        }
        if let name = change.displayName { try write(.string(name), to: StaffFields.displayName, of: key) }
        if let role = change.role { try write(.string(role.rawValue), to: StaffFields.role, of: key) }
        for skill in change.addSkills { try add(skill, to: StaffFields.skills, of: key) }
        for skill in change.removeSkills { try remove(skill, from: StaffFields.skills, of: key) }
        if let capacity = change.capacity { try write(capacity.value, to: StaffFields.capacity, of: key) }
        if let region = change.homeRegion { try write(.string(region), to: StaffFields.homeRegion, of: key) }
    }

    /// Sets whether a staff member takes cases now: themselves, or a supervisor for them.
    public mutating func setAvailability(_ availability: Availability, of id: PrincipalID) throws {
        guard author.principal == id || author.role == .supervisor else {
            throw CaseIntentError(.forbiddenField, "staff set their own availability; a supervisor sets anyone's")
        }
        let key = RecordKey(type: .staff, id: RecordID(id.rawValue))
        guard try record(key) != nil else {
            throw CaseIntentError(.outOfScope, "\(id) is not in the staff directory; a supervisor adds them first")
        }
        try write(.string(availability.rawValue), to: StaffFields.availability, of: key)
    }

    /// Changes the provider's routing table (supervisors): which skill each category needs, and
    /// after how many minutes a waiting case may go to anyone available.
    public mutating func setRouting(
        of provider: ProviderID, skillByCategory: [String: String?] = [:], wideningMinutes: Int?? = nil,
        urgentInQuietHours: Bool? = nil
    ) throws {
        guard author.role == .supervisor else {
            throw CaseIntentError(.forbiddenField, "supervisors manage the routing table")
        }
        let key = RecordKey(type: .routing, id: RecordID(provider.rawValue))
        if !skillByCategory.isEmpty {
            var table = RoutingTable(try record(key)).skillByCategory
            for (category, skill) in skillByCategory { table[category] = skill }
            try write(.object(table.mapValues(Value.string)), to: RoutingFields.skillByCategory, of: key)
        }
        if let wideningMinutes {
            if let minutes = wideningMinutes, minutes < 0 {
                throw CaseIntentError(.malformed, "the widening time is a number of minutes, 0 or more")
            }
            try write(wideningMinutes.map { .int(Int64($0)) } ?? .null, to: RoutingFields.wideningMinutes, of: key)
        }
        if let urgentInQuietHours {
            try write(.bool(urgentInQuietHours), to: RoutingFields.urgentInQuietHours, of: key)
        }
    }

    /// Asks the server to choose the case's owner (staff): the assignee becomes empty, and the
    /// server's routing assigns the case when the change arrives (an `assignment` entry says who
    /// and why), or keeps it waiting until someone can take it.
    public mutating func assignAutomatically(_ key: RecordKey) throws {
        guard author.role.isStaff else {
            throw CaseIntentError(.forbiddenField, "staff assign cases; \(author.role.withArticle) cannot")
        }
        try write(.null, to: CaseFields.assignee, of: key)
    }
}

/// How the server chose a case's owner (``EntryKind/assignment``): written by the server only.
public struct AssignmentEntry: TimelineEntry, Hashable {
    public static let kind = EntryKind.assignment

    /// Why this person, in the order the rule weighs them.
    public enum Reason: String, Sendable, CaseIterable {
        /// They worked on this customer's cases most recently.
        case continuity
        /// They had the most spare capacity on the case's channel.
        case spareCapacity
        /// As much spare capacity as others, fewer open cases.
        case fewestOpenCases
        /// Tied on all of the above: the smallest principal id.
        case tieBreak
    }

    public var to: PrincipalID
    public var reason: Reason
    /// The skill the case needed, if any.
    public var skill: String?
    /// Whether the skill requirement was dropped because the case waited past the widening time.
    public var widened: Bool
    /// How many were eligible.
    public var candidates: Int

    public init(to: PrincipalID, reason: Reason, skill: String?, widened: Bool, candidates: Int) {
        self.to = to
        self.reason = reason
        self.skill = skill
        self.widened = widened
        self.candidates = candidates
    }

    public init?(_ entry: LogEntry) {
        guard entry.kind == Self.kind, let to = entry.payload["to"]?.stringValue,
            let reason = entry.payload["reason"]?.stringValue.flatMap(Reason.init(rawValue:))
        else { return nil }
        self.init(
            to: PrincipalID(to), reason: reason, skill: entry.payload["skill"]?.stringValue,
            widened: entry.payload["widened"]?.boolValue ?? false,
            candidates: Int(entry.payload["candidates"]?.intValue ?? 0))
    }

    public var payload: [String: Value] {
        var payload: [String: Value] = [
            "to": .string(to.rawValue), "reason": .string(reason.rawValue), "widened": .bool(widened),
            "candidates": .int(Int64(candidates)),
        ]
        if let skill { payload["skill"] = .string(skill) }
        return payload
    }

    /// For people: "continuity: worked with this customer most recently (fibre, 3 eligible)".
    public var explanation: String {
        let why: String
        switch reason {
        case .continuity: why = "worked with this customer most recently"
        case .spareCapacity: why = "most spare capacity on the case's channel"
        case .fewestOpenCases: why = "fewest open cases"
        case .tieBreak: why = "tied; smallest id"
        }
        let skillText = skill.map { widened ? "\($0) widened to anyone available" : $0 } ?? "any skill"
        return "\(reason.rawValue): \(why) (\(skillText), \(candidates) eligible)"
    }
}
