/// A read-only view of a `case` record: its fields, its timeline, and everything derived from them.
///
/// Every derived value (status, appointments, conflicts, follow-up) is a pure function of the
/// merged record, so every replica that holds the same state shows the same thing.
public struct ServiceCase: Hashable, Sendable {
    public let record: Record

    /// - Returns: `nil` when `record` is not a case.
    public init?(_ record: Record) {
        guard record.type == .serviceCase else { return nil }
        self.record = record
    }

    public var id: RecordID { record.id }
    public var provider: ProviderID? { record.value(CaseFields.provider)?.stringValue.map(ProviderID.init) }
    public var customer: PrincipalID? { record.value(CaseFields.customer)?.stringValue.map(PrincipalID.init) }
    public var subject: String? { record.value(CaseFields.subject)?.stringValue }
    public var category: String? { record.value(CaseFields.category)?.stringValue }
    public var requiredSkill: String? { record.value(CaseFields.requiredSkill)?.stringValue }
    public var queue: String? { record.value(CaseFields.queue)?.stringValue }
    public var priority: String? { record.value(CaseFields.priority)?.stringValue }
    public var assignee: PrincipalID? { record.value(CaseFields.assignee)?.stringValue.map(PrincipalID.init) }
    public var originChannel: Channel? { record.value(CaseFields.originChannel)?.stringValue.map(Channel.init) }
    /// The SLA due time, in milliseconds since 1970.
    public var slaDue: Int64? { record.value(CaseFields.slaDue)?.intValue }
    public var summary: String? { record.value(CaseFields.summary)?.stringValue }
    public var tags: [String] { record.set(CaseFields.tags)?.elements ?? [] }
    public var watchers: [String] { record.set(CaseFields.watchers)?.elements ?? [] }
    public var links: [String] { record.set(CaseFields.links)?.elements ?? [] }
    public var rating: Int64? { record.value(CaseFields.rating)?.intValue }

    /// The timeline in order of `(stamp, entryID)`.
    public var timeline: [LogEntry] { record.log(CaseFields.timeline)?.ordered ?? [] }

    /// Whether `entry` is a customer message: an inbound message authored by the case's customer
    /// or by an integration on the customer's behalf.
    public func isCustomerMessage(_ entry: LogEntry) -> Bool {
        guard entry.kind == EntryKind.message, entry.payload["direction"] == .string(MessageDirection.inbound) else {
            return false
        }
        return entry.author.role == .integration || isByCustomer(entry)
    }

    /// Whether `entry` was written by the case's own customer from an enrolled device: agents see
    /// "verified via app" and never need to ask for a customer number.
    public func isVerified(_ entry: LogEntry) -> Bool {
        isByCustomer(entry)
    }

    /// The channel of the case's last message or channel switch (where the conversation is now).
    public var lastChannel: Channel? {
        for entry in timeline.reversed() {
            if entry.kind == EntryKind.message, let channel = entry.payload["channel"]?.stringValue {
                return Channel(channel)
            }
            if entry.kind == EntryKind.channelSwitch, let channel = entry.payload["to"]?.stringValue {
                return Channel(channel)
            }
        }
        return nil
    }

    /// What an entry's identity rests on, as agents read it: "verified via app" for the customer's
    /// own device; for a contact taken in from a channel, "verified via phone" or "matched on
    /// phone +49228622243, unverified"; `nil` for staff and the server.
    public func identity(of entry: LogEntry) -> String? {
        if isVerified(entry) { return "verified via app" }
        guard entry.author.role == .integration, let sender = entry.payload["sender"]?.objectValue,
            let kind = sender["kind"]?.stringValue
        else { return nil }
        if sender["verified"]?.boolValue == true { return "verified via \(kind)" }
        let from = entry.personal["from"]?.stringValue.map { " \($0)" } ?? ""
        return "matched on \(kind)\(from), unverified"
    }

    func isByCustomer(_ entry: LogEntry) -> Bool {
        entry.author.role == .customer && customer != nil && entry.author.principal == customer
    }

    /// Register fields whose history shows concurrent edits: field name to its conflict groups.
    public var conflicts: [String: [RegisterConflict]] {
        var result: [String: [RegisterConflict]] = [:]
        for (name, field) in record.fields {
            guard case .register(let register) = field.state else { continue }
            let groups = register.conflicts
            if !groups.isEmpty { result[name] = groups }
        }
        return result
    }
}

extension ServiceCase {
    /// The status, by the rule.
    ///
    /// With no status change the status is `new`. If any status change targets `closed`, it is
    /// `closed`. Otherwise the status change with the largest `(stamp, entryID)` names it, except
    /// that `pending` or `resolved` becomes `open` when a customer message has a strictly larger
    /// stamp.
    public var status: CaseStatus {
        let entries = timeline
        // A status change naming a status this build does not know is shown, but does not count.
        let changes = entries.filter { $0.kind == EntryKind.statusChange && Self.target(of: $0) != nil }
        guard let last = changes.last, let target = Self.target(of: last) else { return .new }
        if changes.contains(where: { Self.target(of: $0) == .closed }) { return .closed }
        if target == .pending || target == .resolved,
            entries.contains(where: { isCustomerMessage($0) && $0.stamp > last.stamp })
        {
            return .open
        }
        return target
    }

    static func target(of entry: LogEntry) -> CaseStatus? {
        entry.payload["to"]?.stringValue.flatMap(CaseStatus.init(rawValue:))
    }

    /// The id of the one follow-up case the server opens for this case once it is closed:
    /// `UUIDv5(namespace: caseID, name: "follow-up")`, lower case (``FollowUp/caseID(for:)``).
    public var followUpID: RecordID {
        FollowUp.caseID(for: id)
    }

    /// Customer messages stamped after the case was first closed: they stay on this timeline, and
    /// the conversation continues on the follow-up case.
    public var messagesAfterClose: [LogEntry] {
        let entries = timeline
        guard
            let firstClose = entries.first(where: {
                $0.kind == EntryKind.statusChange && Self.target(of: $0) == .closed
            })
        else { return [] }
        return entries.filter { isCustomerMessage($0) && $0.stamp > firstClose.stamp }
    }
}
