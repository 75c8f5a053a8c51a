/// A proposed time slot, in milliseconds since 1970.
public struct AppointmentSlot: Hashable, Sendable {
    public var id: String
    public var start: Int64
    public var end: Int64

    public init(id: String, start: Int64, end: Int64) {
        self.id = id
        self.start = start
        self.end = end
    }

    public var value: Value { .object(["id": .string(id), "start": .int(start), "end": .int(end)]) }

    /// The slots of a proposal's payload (members that are not slots are left out).
    public static func slots(of payload: [String: Value]) -> [AppointmentSlot] {
        (payload["slots"]?.arrayValue ?? []).compactMap { slot in
            guard let id = slot["id"]?.stringValue, let start = slot["start"]?.intValue,
                let end = slot["end"]?.intValue
            else { return nil }
            return AppointmentSlot(id: id, start: start, end: end)
        }
    }
}

/// What an appointment is for, and the channel it contacts the customer on.
public enum AppointmentPurpose: String, CaseIterable, Sendable {
    case callback
    case video
    case visit

    public var channel: Channel {
        switch self {
        case .callback: .phone
        case .video: .video
        case .visit: .fieldVisit
        }
    }
}

/// The rules of a proposal: the server refuses a proposal that breaks them, and the client checks
/// the same before saving.
///
/// **Rule**: a proposal names a known purpose and at least one slot; each slot has an id of its
/// own, ends after it starts, lasts at most a day and does not start in the past (a minute of
/// leeway). Staff's proposals are proactive contact on the purpose's channel: the customer must
/// allow that channel, and no part of a slot may fall in their quiet hours (``ContactRefusal``,
/// refused with `contactNotAllowed` naming the rule).
public enum AppointmentRules {
    public static let leewayMillis: Int64 = 60_000
    public static let longestSlotMillis: Int64 = 24 * 3_600_000

    /// What is wrong with the proposal's shape, or `nil`.
    public static func problem(purpose: String, slots: [AppointmentSlot], nowMillis: Int64) -> String? {
        guard AppointmentPurpose(rawValue: purpose) != nil else {
            return
                "\(purpose) is not an appointment: \(AppointmentPurpose.allCases.map(\.rawValue).joined(separator: ", "))"
        }
        guard !slots.isEmpty else { return "a proposal has at least one slot" }
        guard Set(slots.map(\.id)).count == slots.count else { return "each slot of a proposal has an id of its own" }
        for slot in slots {
            if slot.end <= slot.start { return "slot \(slot.id) ends before it starts" }
            if slot.end - slot.start > longestSlotMillis { return "slot \(slot.id) is longer than a day" }
            if slot.start < nowMillis - leewayMillis { return "slot \(slot.id) starts in the past" }
        }
        return nil
    }

    /// The rule that refuses staff's proposal under the customer's preferences, or `nil`.
    public static func refusal(
        _ preferences: ContactPreferences?, purpose: AppointmentPurpose, slots: [AppointmentSlot]
    )
        -> ContactRefusal?
    {
        guard let preferences else { return nil }
        if let allowed = preferences.allowedChannels, !allowed.contains(purpose.channel) {
            return ContactRefusal(
                .channelAllowed, "the customer does not allow contact by \(purpose.channel) (a \(purpose.rawValue))")
        }
        for slot in slots {
            // Every quarter of an hour of the slot, and its last minute.
            let instants = Array(stride(from: slot.start, to: slot.end, by: 15 * 60_000)) + [slot.end - 60_000]
            if instants.contains(where: preferences.isQuiet(atMillis:)) {
                return ContactRefusal(.quietHours, "slot \(slot.id) falls in the customer's quiet hours")
            }
        }
        return nil
    }
}

/// An appointment (callback, video call, visit): one proposal entry and the customer's answers.
///
/// **Rule**: a slot is confirmed only by the customer's acceptance. Only answers authored by the
/// case's customer count; the accepted answer with the largest `(stamp, entryID)` confirms its slot
/// and marks the customer's other acceptances superseded; a decline marks a slot declined.
public struct Appointment: Hashable, Sendable {
    /// The proposal entry, which names the appointment.
    public var proposal: EntryID
    public var purpose: String?
    public var slots: [AppointmentSlot]
    /// The confirmed slot's id.
    public var confirmedSlot: String?
    /// The answer entry that confirmed it.
    public var confirmingAnswer: EntryID?
    /// The customer's other acceptances, superseded by the confirming one.
    public var supersededAnswers: [EntryID]
    /// Slots the customer declined.
    public var declinedSlots: [String]
    /// What became of it, once staff recorded it (the latest outcome entry).
    public var outcome: AppointmentOutcomeEntry? = nil

    /// Whether a slot has been confirmed.
    public var isConfirmed: Bool { confirmedSlot != nil }
}

/// What became of an appointment (``EntryKind/appointmentOutcome``): it took place, or who missed
/// it. Staff record it; the latest outcome of an appointment counts.
public struct AppointmentOutcomeEntry: TimelineEntry {
    public static let kind = EntryKind.appointmentOutcome

    public enum Outcome: String, CaseIterable, Sendable {
        case done
        case missed
    }

    /// Who missed it.
    public enum Party: String, CaseIterable, Sendable {
        case customer
        case provider
    }

    public var appointment: EntryID
    public var outcome: Outcome
    public var missedBy: Party?
    public var note: String?

    public init(appointment: EntryID, outcome: Outcome, missedBy: Party? = nil, note: String? = nil) {
        self.appointment = appointment
        self.outcome = outcome
        self.missedBy = missedBy
        self.note = note
    }

    public init?(_ entry: LogEntry) {
        guard entry.kind == Self.kind, let appointment = entry.payload["appointment"]?.stringValue,
            let outcome = entry.payload["outcome"]?.stringValue.flatMap(Outcome.init(rawValue:))
        else { return nil }
        self.init(
            appointment: EntryID(appointment), outcome: outcome,
            missedBy: entry.payload["missedBy"]?.stringValue.flatMap(Party.init(rawValue:)),
            note: entry.personal["body"]?.stringValue)
    }

    public var payload: [String: Value] {
        var payload: [String: Value] = [
            "appointment": .string(appointment.rawValue), "outcome": .string(outcome.rawValue),
        ]
        if let missedBy { payload["missedBy"] = .string(missedBy.rawValue) }
        return payload
    }

    public var personal: [String: Value] { note.map { ["body": .string($0)] } ?? [:] }

    /// What is wrong with an outcome's payload, or `nil`: it names an appointment of the case
    /// (`proposals`) whose slot is confirmed, `done` or `missed`, and who missed it (only then).
    public static func problem(payload: [String: Value], proposals: [Appointment]) -> String? {
        guard let id = payload["appointment"]?.stringValue,
            let appointment = proposals.first(where: { $0.proposal.rawValue == id })
        else { return "an outcome names an appointment proposed on this case" }
        guard appointment.isConfirmed else { return "appointment \(id.prefix(8)) has no confirmed slot yet" }
        switch payload["outcome"]?.stringValue.flatMap(Outcome.init(rawValue:)) {
        case .done:
            if payload["missedBy"] != nil { return "an appointment that took place was not missed" }
        case .missed:
            guard payload["missedBy"]?.stringValue.flatMap(Party.init(rawValue:)) != nil else {
                return "a missed appointment says who missed it: customer or provider"
            }
        case nil:
            return "an outcome is done or missed"
        }
        return nil
    }
}

extension ServiceCase {
    /// The appointments on the timeline, in order of their proposals.
    public var appointments: [Appointment] {
        let entries = timeline
        var answers: [EntryID: [LogEntry]] = [:]
        for entry in entries where entry.kind == EntryKind.appointmentAnswer && isByCustomer(entry) {
            guard let proposal = entry.payload["proposal"]?.stringValue else { continue }
            answers[EntryID(proposal), default: []].append(entry)
        }
        var outcomes: [String: AppointmentOutcomeEntry] = [:]
        for entry in entries where entry.kind == EntryKind.appointmentOutcome && entry.author.role.isStaff {
            if let outcome = AppointmentOutcomeEntry(entry) { outcomes[outcome.appointment.rawValue] = outcome }
        }
        return entries.filter { $0.kind == EntryKind.appointmentProposal }.map { proposal in
            let slots = AppointmentSlot.slots(of: proposal.payload)
            let slotIDs = Set(slots.map(\.id))
            let mine = (answers[proposal.id] ?? []).filter { slotIDs.contains($0.payload["slot"]?.stringValue ?? "") }
            let accepts = mine.filter { $0.payload["answer"] == "accept" }
            let winner = accepts.last  // the timeline is ordered by (stamp, entryID)
            let declined = Set(
                mine.filter { $0.payload["answer"] == "decline" }.compactMap { $0.payload["slot"]?.stringValue })
            return Appointment(
                proposal: proposal.id,
                purpose: proposal.payload["purpose"]?.stringValue,
                slots: slots,
                confirmedSlot: winner?.payload["slot"]?.stringValue,
                confirmingAnswer: winner?.id,
                supersededAnswers: accepts.dropLast().map(\.id),
                declinedSlots: declined.sorted(by: utf8Precedes), outcome: outcomes[proposal.id.rawValue])
        }
    }
}
