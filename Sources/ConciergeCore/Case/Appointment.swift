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

    /// Whether a slot has been confirmed.
    public var isConfirmed: Bool { confirmedSlot != nil }
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
        return entries.filter { $0.kind == EntryKind.appointmentProposal }.map { proposal in
            let slots = (proposal.payload["slots"]?.arrayValue ?? []).compactMap { slot -> AppointmentSlot? in
                guard let id = slot["id"]?.stringValue, let start = slot["start"]?.intValue,
                    let end = slot["end"]?.intValue
                else { return nil }
                return AppointmentSlot(id: id, start: start, end: end)
            }
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
                declinedSlots: declined.sorted(by: utf8Precedes))
        }
    }
}
