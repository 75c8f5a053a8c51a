import Foundation

/// The record types of routing: who works at a provider, how busy they are, and the provider's
/// routing table.
extension RecordType {
    /// A staff member in the provider's directory (id: their principal id).
    public static let staff = RecordType("staff")
    /// What a staff member has open, kept by the server (id: their principal id).
    public static let workload = RecordType("workload")
    /// The provider's routing table and the server's copy of its directory (id: the provider id).
    public static let routing = RecordType("routing")
    /// Who worked on a customer's cases, and when, kept by the server (id: the customer's id).
    public static let continuity = RecordType("continuity")
}

/// Field names of a staff member's directory entry (`staff`, id: their principal id). Supervisors
/// write it; the member sets their own availability.
public enum StaffFields {
    public static let provider = "provider"
    public static let displayName = "displayName"
    /// `agent`, `specialist`, `technician` or `supervisor`: the principal's role, for the directory.
    public static let role = "role"
    /// What they can solve (a set): the required skills of the cases routed to them.
    public static let skills = "skills"
    /// How many cases they take at once per channel: `{"chat": 3, "email": 10, "phone": 1}`; `"*"`
    /// counts for every channel not named. A channel with no capacity is never routed to them.
    public static let capacity = "capacity"
    /// `onShift`, `away` or `off` (``Availability``), with history.
    public static let availability = "availability"
    /// A technician's home region (a postcode area, a district).
    public static let homeRegion = "homeRegion"

    public static let schema = RecordSchema(
        type: .staff,
        fields: [
            provider: .register, displayName: .register, role: .register, skills: .set, capacity: .register,
            availability: .historyRegister, homeRegion: .register,
        ])
}

/// Whether a staff member takes cases now.
public enum Availability: String, CaseIterable, Sendable {
    /// Working, and routed to.
    case onShift
    /// Working, but not routed to now (a break, training).
    case away
    /// Not working.
    case off
}

/// Field names of a staff member's workload (`workload`, id: their principal id): written only by
/// the server, whenever a case is assigned to them, leaves them, or is resolved or closed.
public enum WorkloadFields {
    public static let provider = "provider"
    /// The cases they have open, with each case's channel: `{"<case id>": "chat"}`.
    public static let openCases = "openCases"

    /// Every field.
    public static let all = [provider, openCases]

    public static let schema = RecordSchema(type: .workload, fields: [provider: .register, openCases: .register])
}

/// Field names of a customer's continuity record (`continuity`, id: the customer's id): written
/// only by the server, whenever one of the customer's cases is assigned.
public enum ContinuityFields {
    public static let provider = "provider"
    /// The staff who worked on the customer's cases, with when they last did (ms since 1970): the
    /// most recent ``Continuity/limit``.
    public static let workedWith = "workedWith"

    public static let schema = RecordSchema(type: .continuity, fields: [provider: .register, workedWith: .register])
}

/// A view of a customer's `continuity` record.
public struct Continuity: Hashable, Sendable {
    /// How many staff members a customer's record remembers.
    public static let limit = 20

    /// Staff by principal id, with when they last worked on one of the customer's cases.
    public private(set) var workedWith: [String: Int64]

    public init(_ record: Record?) {
        workedWith = (record?.value(ContinuityFields.workedWith)?.objectValue ?? [:]).compactMapValues(\.intValue)
    }

    /// Notes that `staff` worked on the customer's case at `millis`, forgetting the oldest beyond
    /// ``limit``.
    public mutating func worked(_ staff: String, at millis: Int64) {
        workedWith[staff] = max(millis, workedWith[staff] ?? millis)
        guard workedWith.count > Self.limit else { return }
        let oldest = workedWith.sorted { ($0.value, $0.key) < ($1.value, $1.key) }
        for (id, _) in oldest.prefix(workedWith.count - Self.limit) { workedWith[id] = nil }
    }

    public var value: Value { .object(workedWith.mapValues { .int($0) }) }
}

/// Field names of a provider's routing record (`routing`, id: the provider id).
public enum RoutingFields {
    /// Which skill a case of a category needs, when staff named none: `{"billing": "billing"}`.
    public static let skillByCategory = "skillByCategory"
    /// Minutes a case may wait for a specialist before anyone available may take it.
    public static let wideningMinutes = "wideningMinutes"
    /// The server's copy of the directory, kept by the server from the `staff` records:
    /// `{"<principal>": {"skills": [...], "capacity": {...}, "onShift": true}}`.
    public static let roster = "roster"
    /// Cases nobody could take yet, with since when they wait: `{"<case id>": millis}`.
    public static let waiting = "waiting"

    /// The provider's policy: whether urgent service messages may go through a customer's quiet
    /// hours (true), or never (false, the default).
    public static let urgentInQuietHours = "urgentInQuietHours"

    /// Every field.
    public static let all = [skillByCategory, wideningMinutes, roster, waiting, urgentInQuietHours]

    public static let schema = RecordSchema(
        type: .routing,
        fields: [
            skillByCategory: .register, wideningMinutes: .register, roster: .register, waiting: .register,
            urgentInQuietHours: .register,
        ])
}

/// A view of a `staff` record.
public struct StaffMember: Hashable, Sendable {
    public let record: Record

    public init?(_ record: Record) {
        guard record.type == .staff else { return nil }
        self.record = record
    }

    public var id: PrincipalID { PrincipalID(record.id.rawValue) }
    public var provider: ProviderID? { record.value(StaffFields.provider)?.stringValue.map(ProviderID.init) }
    public var displayName: String? { record.value(StaffFields.displayName)?.stringValue }
    public var role: Role? { record.value(StaffFields.role)?.stringValue.map(Role.init) }
    public var skills: [String] { (record.set(StaffFields.skills)?.elements ?? []).sorted(by: utf8Precedes) }
    public var capacity: Capacity { Capacity(record.value(StaffFields.capacity)) }
    /// `off` until set.
    public var availability: Availability {
        record.value(StaffFields.availability)?.stringValue.flatMap(Availability.init(rawValue:)) ?? .off
    }
    public var homeRegion: String? { record.value(StaffFields.homeRegion)?.stringValue }
}

/// How many cases someone takes at once, per channel.
public struct Capacity: Hashable, Sendable {
    /// The wildcard channel: counts for every channel not named.
    public static let anyChannel = "*"
    public var perChannel: [String: Int]

    public init(_ perChannel: [String: Int]) { self.perChannel = perChannel }

    /// The capacity a stored value names (members that are not whole numbers count as none).
    public init(_ value: Value?) {
        var perChannel: [String: Int] = [:]
        for (channel, count) in value?.objectValue ?? [:] {
            if let count = count.intValue { perChannel[channel] = Int(count) }
        }
        self.perChannel = perChannel
    }

    /// How many cases of `channel` they take at once.
    public func on(_ channel: Channel) -> Int { perChannel[channel.rawValue] ?? perChannel[Self.anyChannel] ?? 0 }

    public var value: Value { .object(perChannel.mapValues { .int(Int64($0)) }) }

    /// Parses `chat=3,email=10,*=1`.
    public static func parse(_ text: String) throws(CaseIntentError) -> Capacity {
        var perChannel: [String: Int] = [:]
        for part in text.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, let count = Int(pair[1]), count >= 0,
                pair[0] == anyChannel || Channel.all.contains(Channel(pair[0]))
            else {
                throw CaseIntentError(
                    .malformed, "capacity looks like chat=3,email=10,phone=1 (a known channel or * and a count)")
            }
            perChannel[pair[0]] = count
        }
        return Capacity(perChannel)
    }

    /// `chat=3,email=10`, channels in order.
    public var description: String {
        perChannel.keys.sorted(by: utf8Precedes).map { "\($0)=\(perChannel[$0]!)" }.joined(separator: ",")
    }
}

/// A view of a `workload` record.
public struct Workload: Hashable, Sendable {
    /// Open cases by id, with their channel.
    public private(set) var openCases: [String: String]
    /// Open cases per channel.
    private var loads: [String: Int]

    public init(openCases: [String: String] = [:]) {
        self.openCases = openCases
        loads = [:]
        for channel in openCases.values { loads[channel, default: 0] += 1 }
    }

    public init(_ record: Record?) {
        self.init(
            openCases: (record?.value(WorkloadFields.openCases)?.objectValue ?? [:]).compactMapValues(\.stringValue))
    }

    /// How many open cases they have on `channel`.
    public func load(on channel: Channel) -> Int { loads[channel.rawValue] ?? 0 }

    /// Puts a case on the workload (or moves it to `channel`); whether anything changed.
    @discardableResult
    public mutating func open(_ caseID: String, on channel: String) -> Bool {
        let previous = openCases.updateValue(channel, forKey: caseID)
        guard previous != channel else { return false }
        if let previous { loads[previous, default: 1] -= 1 }
        loads[channel, default: 0] += 1
        return true
    }

    /// Takes a case off the workload; whether it was on it.
    @discardableResult
    public mutating func close(_ caseID: String) -> Bool {
        guard let channel = openCases.removeValue(forKey: caseID) else { return false }
        loads[channel, default: 1] -= 1
        return true
    }

    public var value: Value { .object(openCases.mapValues(Value.string)) }
}

/// A view of a provider's `routing` record.
public struct RoutingTable: Hashable, Sendable {
    /// One member of the directory, as the server copies it for routing.
    public struct Entry: Hashable, Sendable {
        public var skills: Set<String>
        public var capacity: Capacity
        public var onShift: Bool
        public var role: Role?

        public init(skills: Set<String>, capacity: Capacity, onShift: Bool, role: Role?) {
            self.skills = skills
            self.capacity = capacity
            self.onShift = onShift
            self.role = role
        }

        public init(_ member: StaffMember) {
            self.init(
                skills: Set(member.skills), capacity: member.capacity, onShift: member.availability == .onShift,
                role: member.role)
        }

        public init(_ value: Value) {
            self.init(
                skills: Set((value["skills"]?.arrayValue ?? []).compactMap(\.stringValue)),
                capacity: Capacity(value["capacity"]), onShift: value["onShift"]?.boolValue ?? false,
                role: value["role"]?.stringValue.map(Role.init))
        }

        public var value: Value {
            var members: [String: Value] = [
                "skills": .array(skills.sorted(by: utf8Precedes).map(Value.string)), "capacity": capacity.value,
                "onShift": .bool(onShift),
            ]
            if let role { members["role"] = .string(role.rawValue) }
            return .object(members)
        }
    }

    public var skillByCategory: [String: String]
    public var wideningMinutes: Int?
    /// Whether urgent service messages may go through quiet hours.
    public var urgentInQuietHours: Bool
    public var roster: [String: Entry]
    public var waiting: [String: Int64]

    public init(_ record: Record?) {
        skillByCategory = (record?.value(RoutingFields.skillByCategory)?.objectValue ?? [:]).compactMapValues(
            \.stringValue)
        wideningMinutes = record?.value(RoutingFields.wideningMinutes)?.intValue.map(Int.init)
        urgentInQuietHours = record?.value(RoutingFields.urgentInQuietHours)?.boolValue ?? false
        roster = (record?.value(RoutingFields.roster)?.objectValue ?? [:]).mapValues(Entry.init)
        waiting = (record?.value(RoutingFields.waiting)?.objectValue ?? [:]).compactMapValues(\.intValue)
    }

    public var rosterValue: Value { .object(roster.mapValues(\.value)) }
    public var waitingValue: Value { .object(waiting.mapValues { .int($0) }) }
}
