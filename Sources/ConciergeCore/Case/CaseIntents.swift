import Foundation

/// What a user does to a service case, as typed operations that build its entries and writes: a
/// phone app and the CLI call these, so both make the same entries with the same payload keys.
///
/// Each checks early what the server would refuse for the user's role (a transition the table
/// forbids, a note by a customer), and throws ``CaseIntentError`` with the server's code.
extension Editor {
    /// Opens a case; returns its key (a new lower-case UUID).
    @discardableResult
    public mutating func openCase(_ intent: NewCaseIntent) throws -> RecordKey {
        let key = RecordKey(type: .serviceCase, id: RecordID(UUID().uuidString.lowercased()))
        let customer = author.role == .customer ? author.principal : intent.customer
        guard let customer else { throw CaseIntentError(.outOfScope, "staff name the customer of a case they open") }
        try write(.string(intent.provider.rawValue), to: CaseFields.provider, of: key)
        try write(.string(customer.rawValue), to: CaseFields.customer, of: key)
        try write(.string(intent.subject), to: CaseFields.subject, of: key)
        try write(.string(intent.channel.rawValue), to: CaseFields.originChannel, of: key)
        for (field, value) in [
            (CaseFields.category, intent.category), (CaseFields.requiredSkill, intent.requiredSkill),
            (CaseFields.queue, intent.queue), (CaseFields.priority, intent.priority),
        ] {
            if let value { try write(.string(value), to: field, of: key) }
        }
        if let message = intent.message { try reply(on: key, body: message, channel: intent.channel) }
        return key
    }

    /// Writes a message on the case: inbound from a customer or an integration, outbound from staff.
    /// - Parameter purpose: of an outbound message; `nil` is `service` (see ``ProactiveContact``).
    @discardableResult
    public mutating func reply(
        on key: RecordKey, body: String, channel: Channel = .app, purpose: String? = nil, id: EntryID? = nil
    ) throws -> EntryID {
        let inbound = author.role == .customer || author.role == .integration
        let entry = MessageEntry(
            channel: channel, direction: inbound ? MessageDirection.inbound : MessageDirection.outbound,
            purpose: inbound ? nil : purpose, body: body)
        return try append(entry, to: key, id: id)
    }

    /// Writes a message on the case, checking first what the server checks of an outbound one: a
    /// proactive contact (not an answer to the customer on the same channel within 24 hours) must
    /// be allowed by the customer's preferences (``ProactiveContact``).
    /// - Parameters:
    ///   - preferences: the customer's preferences as this replica holds them (`nil`: none).
    ///   - nowMillis: the time of sending, in milliseconds since 1970.
    ///   - urgent: an urgent service message, which may go through quiet hours when
    ///     `urgentInQuietHours` (the provider's policy, as this replica holds it) says so; the
    ///     entry then records that it did.
    @discardableResult
    public mutating func reply(
        on serviceCase: ServiceCase, body: String, channel: Channel = .app, purpose: String? = nil,
        preferences: ContactPreferences?, nowMillis: Int64, urgent: Bool = false, urgentInQuietHours: Bool = false
    ) throws -> EntryID {
        let outbound = author.role != .customer && author.role != .integration
        let given = purpose
        let purpose = purpose ?? ProactiveContact.servicePurpose
        if urgent, !outbound || purpose != ProactiveContact.servicePurpose {
            throw CaseIntentError(.malformed, "only staff's service messages are urgent")
        }
        var overrides = false
        if outbound,
            ProactiveContact.isProactive(
                channel: channel, atMillis: nowMillis,
                customerMessages: serviceCase.timeline.filter(serviceCase.isCustomerMessage))
        {
            let overriding = urgent && urgentInQuietHours
            if let refusal = ProactiveContact.refusal(
                preferences, channel: channel, purpose: purpose, atMillis: nowMillis, ignoringQuietHours: overriding)
            {
                throw CaseIntentError(.contactNotAllowed, "\(refusal.rule): \(refusal.message)")
            }
            overrides = overriding && preferences?.isQuiet(atMillis: nowMillis) == true
        }
        var entry = MessageEntry(channel: channel, direction: MessageDirection.outbound, purpose: given, body: body)
        if outbound {
            entry.urgent = urgent
            entry.overridesQuietHours = overrides
            return try append(entry, to: serviceCase.record.key)
        }
        return try reply(on: serviceCase.record.key, body: body, channel: channel)
    }

    /// Notes that the conversation moved to another channel (a chat becoming a call), on the same
    /// case: whoever picks up the new channel reads the case instead of asking again. `from`
    /// defaults to the channel of the case's last message, else its origin channel.
    @discardableResult
    public mutating func switchChannel(_ serviceCase: ServiceCase, to: Channel, from: Channel? = nil) throws
        -> EntryID
    {
        let from = from ?? serviceCase.lastChannel ?? serviceCase.originChannel ?? .app
        let entry = ChannelSwitchEntry(from: from, to: to)
        if let problem = entry.problem { throw CaseIntentError(.malformed, problem) }
        return try append(entry, to: serviceCase.record.key)
    }

    /// Adds an internal note (staff only; customers never see it).
    @discardableResult
    public mutating func note(on key: RecordKey, body: String) throws -> EntryID {
        guard author.role.isStaff else {
            throw CaseIntentError(
                .forbiddenField, "internal notes are for staff; \(author.role.withArticle) cannot add one")
        }
        return try append(NoteEntry(body: body), to: key)
    }

    /// Changes the case's status from the one it shows; `nil` when it already has `target`.
    @discardableResult
    public mutating func changeStatus(of serviceCase: ServiceCase, to target: CaseStatus) throws -> EntryID? {
        let from = serviceCase.status
        guard from != target else { return nil }
        guard CaseStatus.isAllowed(from: from, to: target, by: author, caseCustomer: serviceCase.customer) else {
            throw CaseIntentError(
                .invalidTransition, "\(author.role.withArticle) cannot move a case from \(from) to \(target)")
        }
        return try append(StatusChangeEntry(from: from, to: target), to: serviceCase.record.key)
    }

    /// Hands the case to a colleague with what we know so far: a handoff entry, the new assignee,
    /// and the summary the next person reads instead of asking the customer. A summary is
    /// required. The reason is for staff only: a customer sees that the case moved, the summary,
    /// and `team` when named (which also becomes the case's required skill).
    @discardableResult
    public mutating func handoff(
        _ serviceCase: ServiceCase, to: PrincipalID, summary: String, reason: String?, team: String? = nil
    ) throws -> EntryID {
        guard author.role.isStaff else {
            throw CaseIntentError(.forbiddenField, "staff hand cases on; \(author.role.withArticle) cannot")
        }
        guard !summary.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw CaseIntentError(.malformed, "a handoff carries a summary of what we know so far")
        }
        let key = serviceCase.record.key
        let from = serviceCase.assignee ?? author.principal
        guard from != to else { throw CaseIntentError(.malformed, "the case is already \(to)'s") }
        let id = try append(HandoffEntry(from: from, to: to, reason: reason, summary: summary, team: team), to: key)
        try assign(key, to: to)
        try write(.string(summary), to: CaseFields.summary, of: key)
        if let team { try write(.string(team), to: CaseFields.requiredSkill, of: key) }
        return id
    }

    /// Assigns the case (staff).
    public mutating func assign(_ key: RecordKey, to assignee: PrincipalID) throws {
        try write(.string(assignee.rawValue), to: CaseFields.assignee, of: key)
    }

    /// Adds a tag (staff), or removes it.
    public mutating func tag(_ key: RecordKey, _ tag: String, remove: Bool = false) throws {
        if remove {
            try self.remove(tag, from: CaseFields.tags, of: key)
        } else {
            try add(tag, to: CaseFields.tags, of: key)
        }
    }

    /// Rates the service, 1 to 5 (the customer).
    public mutating func rate(_ key: RecordKey, stars: Int) throws {
        guard (1...5).contains(stars) else { throw CaseIntentError(.forbiddenField, "a rating is 1 to 5") }
        try write(.int(Int64(stars)), to: CaseFields.rating, of: key)
    }

    /// Proposes slots for a callback, video call or visit (staff); returns the proposal's id. Checks
    /// first what the server checks (``AppointmentRules``): the slots' shape, and the customer's
    /// allowed channels and quiet hours as this replica holds their preferences.
    @discardableResult
    public mutating func propose(
        on key: RecordKey, purpose: String, slots: [AppointmentSlot], preferences: ContactPreferences? = nil,
        nowMillis: Int64
    ) throws -> EntryID {
        guard author.role.isStaff else {
            throw CaseIntentError(.forbiddenField, "staff propose appointments; the customer accepts or declines")
        }
        if let problem = AppointmentRules.problem(purpose: purpose, slots: slots, nowMillis: nowMillis) {
            throw CaseIntentError(.malformed, problem)
        }
        if let kind = AppointmentPurpose(rawValue: purpose),
            let refusal = AppointmentRules.refusal(preferences, purpose: kind, slots: slots)
        {
            throw CaseIntentError(.contactNotAllowed, "\(refusal.rule): \(refusal.message)")
        }
        return try append(AppointmentProposalEntry(purpose: purpose, slots: slots), to: key)
    }

    /// Accepts or declines one slot of a proposal (the customer).
    @discardableResult
    public mutating func answer(
        on key: RecordKey, proposal: EntryID, slot: String, _ answer: AppointmentAnswerEntry.Answer
    ) throws -> EntryID {
        try append(AppointmentAnswerEntry(proposal: proposal, slot: slot, answer: answer), to: key)
    }

    /// Records what became of a confirmed appointment (staff): it took place, or who missed it.
    @discardableResult
    public mutating func recordOutcome(_ outcome: AppointmentOutcomeEntry, on serviceCase: ServiceCase) throws
        -> EntryID
    {
        guard author.role.isStaff else {
            throw CaseIntentError(.forbiddenField, "staff record what became of an appointment")
        }
        if let problem = AppointmentOutcomeEntry.problem(payload: outcome.payload, proposals: serviceCase.appointments)
        {
            throw CaseIntentError(.malformed, problem)
        }
        return try append(outcome, to: serviceCase.record.key)
    }

    /// Appends a typed entry to the case's timeline.
    @discardableResult
    public mutating func append(_ entry: some TimelineEntry, to key: RecordKey, id: EntryID? = nil) throws -> EntryID {
        try append(
            type(of: entry).kind, to: CaseFields.timeline, of: key, id: id, payload: entry.payload,
            personal: entry.personal)
    }
}

/// What a user asked for that the server would refuse: the server's code, and why.
public struct CaseIntentError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: SyncError.Code
    public var message: String

    public init(_ code: SyncError.Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// A case to open.
public struct NewCaseIntent: Hashable, Sendable {
    public var provider: ProviderID
    public var subject: String
    /// The customer, when staff open the case (a customer opens cases for themselves).
    public var customer: PrincipalID?
    /// The first message.
    public var message: String?
    public var channel: Channel
    public var category: String?
    public var requiredSkill: String?
    public var queue: String?
    public var priority: String?

    public init(
        provider: ProviderID, subject: String, customer: PrincipalID? = nil, message: String? = nil,
        channel: Channel = .app, category: String? = nil, requiredSkill: String? = nil, queue: String? = nil,
        priority: String? = nil
    ) {
        self.provider = provider
        self.subject = subject
        self.customer = customer
        self.message = message
        self.channel = channel
        self.category = category
        self.requiredSkill = requiredSkill
        self.queue = queue
        self.priority = priority
    }
}

/// A timeline entry's typed payload: its kind, its structural members (`payload`, kept on
/// erasure) and its personal ones (`personal`, blanked on erasure).
public protocol TimelineEntry: Hashable, Sendable {
    static var kind: String { get }
    var payload: [String: Value] { get }
    var personal: [String: Value] { get }
}

extension TimelineEntry {
    public var personal: [String: Value] { [:] }
}

/// A message on a channel (``EntryKind/message``).
///
/// A message taken in from a channel integration also says who sent it and what that rests on
/// (``sender``), and carries the channel's own details (``email``, ``call``).
public struct MessageEntry: TimelineEntry {
    public static let kind = EntryKind.message
    public var channel: Channel
    /// ``MessageDirection/inbound`` or ``MessageDirection/outbound``.
    public var direction: String
    /// Of an outbound message: `service` (the default), `notices`, `marketing`, `surveys`, ...
    public var purpose: String?
    public var body: String?
    public var sender: Sender?
    public var email: EmailDetails?
    public var call: CallDetails?
    /// When it happened on its channel (milliseconds since 1970), when that is not when it was
    /// written down: a call taken in after it ended.
    public var occurredAt: Int64?
    /// An urgent service message (an outage at the customer's address): it may go through the
    /// customer's quiet hours when the provider's policy lets it (``RoutingFields/urgentInQuietHours``).
    public var urgent = false
    /// Set when an urgent message was sent in the customer's quiet hours: the entry records that.
    public var overridesQuietHours = false

    /// Who sent a message taken in from a channel, and what the identity rests on: the contact
    /// point it came from (`from`, personal) and whether that point is verified for the customer.
    public struct Sender: Hashable, Sendable {
        public var point: ContactPoint
        public var verified: Bool

        public init(point: ContactPoint, verified: Bool) {
            self.point = point
            self.verified = verified
        }

        /// "verified via phone", "matched on email anna@example.com, unverified".
        public var restsOn: String {
            verified ? "verified via \(point.kind)" : "matched on \(point.kind) \(point.value), unverified"
        }
    }

    /// An e-mail's subject (personal) and the ids that thread it.
    public struct EmailDetails: Hashable, Sendable {
        public var subject: String?
        public var messageID: String?
        public var inReplyTo: String?
        public var references: [String]

        public init(subject: String?, messageID: String?, inReplyTo: String? = nil, references: [String] = []) {
            self.subject = subject
            self.messageID = messageID
            self.inReplyTo = inReplyTo
            self.references = references
        }
    }

    /// A call's length and how it ended (`answered`, `missed`, `voicemail`, `busy`, ...).
    public struct CallDetails: Hashable, Sendable {
        public var durationSeconds: Int64?
        public var outcome: String?

        public init(durationSeconds: Int64?, outcome: String?) {
            self.durationSeconds = durationSeconds
            self.outcome = outcome
        }
    }

    public init(
        channel: Channel, direction: String, purpose: String? = nil, body: String?, sender: Sender? = nil,
        email: EmailDetails? = nil, call: CallDetails? = nil, occurredAt: Int64? = nil
    ) {
        self.channel = channel
        self.direction = direction
        self.purpose = purpose
        self.body = body
        self.sender = sender
        self.email = email
        self.call = call
        self.occurredAt = occurredAt
    }

    public var payload: [String: Value] {
        var payload: [String: Value] = ["channel": .string(channel.rawValue), "direction": .string(direction)]
        if let purpose { payload["purpose"] = .string(purpose) }
        if let occurredAt { payload["occurredAt"] = .int(occurredAt) }
        if urgent { payload["urgent"] = .bool(true) }
        if overridesQuietHours { payload["overridesQuietHours"] = .bool(true) }
        if let sender {
            payload["sender"] = .object([
                "kind": .string(sender.point.kind.rawValue), "verified": .bool(sender.verified),
                "parsed": .bool(sender.point.parsed),
            ])
        }
        if let email {
            var details: [String: Value] = [:]
            if let id = email.messageID { details["messageId"] = .string(id) }
            if let id = email.inReplyTo { details["inReplyTo"] = .string(id) }
            if !email.references.isEmpty { details["references"] = .array(email.references.map(Value.string)) }
            payload["email"] = .object(details)
        }
        if let call {
            var details: [String: Value] = [:]
            if let seconds = call.durationSeconds { details["durationSeconds"] = .int(seconds) }
            if let outcome = call.outcome { details["outcome"] = .string(outcome) }
            payload["call"] = .object(details)
        }
        return payload
    }

    public var personal: [String: Value] {
        var personal: [String: Value] = [:]
        if let body { personal["body"] = .string(body) }
        if let sender { personal["from"] = .string(sender.point.value) }
        if let subject = email?.subject { personal["subject"] = .string(subject) }
        return personal
    }
}

/// An internal note (``EntryKind/note``).
public struct NoteEntry: TimelineEntry {
    public static let kind = EntryKind.note
    public var body: String
    public init(body: String) { self.body = body }
    public var payload: [String: Value] { [:] }
    public var personal: [String: Value] { ["body": .string(body)] }
}

/// A status change (``EntryKind/statusChange``).
public struct StatusChangeEntry: TimelineEntry {
    public static let kind = EntryKind.statusChange
    public var from: CaseStatus
    public var to: CaseStatus
    public init(from: CaseStatus, to: CaseStatus) {
        self.from = from
        self.to = to
    }
    public var payload: [String: Value] { ["from": .string(from.rawValue), "to": .string(to.rawValue)] }
}

/// A channel switch (``EntryKind/channelSwitch``): the conversation moved from one channel to
/// another on the same case.
public struct ChannelSwitchEntry: TimelineEntry {
    public static let kind = EntryKind.channelSwitch
    public var from: Channel
    public var to: Channel

    public init(from: Channel, to: Channel) {
        self.from = from
        self.to = to
    }

    public var payload: [String: Value] { ["from": .string(from.rawValue), "to": .string(to.rawValue)] }

    /// Why the entry is not a switch the server accepts: an unknown channel, or no change; `nil`
    /// when it is one. The server applies the same rule.
    public var problem: String? {
        if !Channel.all.contains(from) || !Channel.all.contains(to) {
            return
                "a channel switch names known channels: \(Channel.all.map(\.rawValue).sorted().joined(separator: ", "))"
        }
        return from == to ? "a channel switch goes to another channel" : nil
    }

    /// The switch an entry's payload describes, if it names two channels.
    public init?(payload: [String: Value]) {
        guard let from = payload["from"]?.stringValue, let to = payload["to"]?.stringValue else { return nil }
        self.init(from: Channel(from), to: Channel(to))
    }
}

/// A handoff (``EntryKind/handoff``): who, to whom, why, and what we know so far.
public struct HandoffEntry: TimelineEntry {
    public static let kind = EntryKind.handoff
    public var from: PrincipalID
    public var to: PrincipalID
    public var reason: String?
    public var summary: String
    /// The skill or queue the case moves to, which the customer sees.
    public var team: String?
    public init(from: PrincipalID, to: PrincipalID, reason: String?, summary: String, team: String? = nil) {
        self.from = from
        self.to = to
        self.reason = reason
        self.summary = summary
        self.team = team
    }
    public var payload: [String: Value] {
        var payload: [String: Value] = ["from": .string(from.rawValue), "to": .string(to.rawValue)]
        if let team { payload["team"] = .string(team) }
        return payload
    }
    public var personal: [String: Value] {
        var personal: [String: Value] = ["summary": .string(summary)]
        if let reason { personal["reason"] = .string(reason) }
        return personal
    }
}

/// Slots proposed for a callback, video call or visit (``EntryKind/appointmentProposal``).
public struct AppointmentProposalEntry: TimelineEntry {
    public static let kind = EntryKind.appointmentProposal
    /// `callback`, `video` or `visit`.
    public var purpose: String
    public var slots: [AppointmentSlot]
    public init(purpose: String, slots: [AppointmentSlot]) {
        self.purpose = purpose
        self.slots = slots
    }
    public var payload: [String: Value] { ["purpose": .string(purpose), "slots": .array(slots.map(\.value))] }
}

/// The customer's answer to one slot (``EntryKind/appointmentAnswer``).
public struct AppointmentAnswerEntry: TimelineEntry {
    public static let kind = EntryKind.appointmentAnswer
    public enum Answer: String, Hashable, Sendable {
        case accept
        case decline
    }
    public var proposal: EntryID
    public var slot: String
    public var answer: Answer
    public init(proposal: EntryID, slot: String, answer: Answer) {
        self.proposal = proposal
        self.slot = slot
        self.answer = answer
    }
    public var payload: [String: Value] {
        ["proposal": .string(proposal.rawValue), "slot": .string(slot), "answer": .string(answer.rawValue)]
    }
}

/// What became of a reply on the customer's channel (``EntryKind/delivery``): written by the
/// integration that delivered it, or failed to.
public struct DeliveryEntry: TimelineEntry {
    public static let kind = EntryKind.delivery
    public static let results: Set<String> = ["delivered", "failed"]
    /// The outbound message's entry id.
    public var message: EntryID
    public var channel: Channel
    /// `delivered` or `failed`.
    public var result: String
    /// The channel's own id for the delivered message (an e-mail's Message-ID, an SMS id).
    public var channelID: String?
    /// Why it failed, or what the gateway said.
    public var detail: String?

    public init(message: EntryID, channel: Channel, result: String, channelID: String? = nil, detail: String? = nil) {
        self.message = message
        self.channel = channel
        self.result = result
        self.channelID = channelID
        self.detail = detail
    }

    public var payload: [String: Value] {
        var payload: [String: Value] = [
            "message": .string(message.rawValue), "channel": .string(channel.rawValue), "result": .string(result),
        ]
        if let channelID { payload["channelId"] = .string(channelID) }
        return payload
    }

    public var personal: [String: Value] { detail.map { ["detail": .string($0)] } ?? [:] }
}
