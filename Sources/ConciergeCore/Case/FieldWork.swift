/// A technician's report on a visit (``EntryKind/visitReport``): what they found, what they did,
/// the parts they used, whether the problem is solved, and whether the customer confirmed it.
///
/// **Rule**: only the technician the case is assigned to reports, checks in and checks out; a
/// report that says the problem is solved moves the case to `resolved` (the server's reaction),
/// for the agent to close.
public struct VisitReportEntry: TimelineEntry {
    public static let kind = EntryKind.visitReport
    public var appointment: EntryID?
    public var diagnosis: String
    public var done: String
    public var parts: [String]
    public var solved: Bool
    public var customerConfirmed: Bool
    public var notes: String?

    public init(
        appointment: EntryID?, diagnosis: String, done: String, parts: [String] = [], solved: Bool,
        customerConfirmed: Bool, notes: String? = nil
    ) {
        self.appointment = appointment
        self.diagnosis = diagnosis
        self.done = done
        self.parts = parts
        self.solved = solved
        self.customerConfirmed = customerConfirmed
        self.notes = notes
    }

    public init?(_ entry: LogEntry) {
        guard entry.kind == Self.kind else { return nil }
        self.init(
            appointment: entry.payload["appointment"]?.stringValue.map(EntryID.init),
            diagnosis: entry.personal["diagnosis"]?.stringValue ?? "", done: entry.personal["done"]?.stringValue ?? "",
            parts: (entry.payload["parts"]?.arrayValue ?? []).compactMap(\.stringValue),
            solved: entry.payload["solved"]?.boolValue ?? false,
            customerConfirmed: entry.payload["customerConfirmed"]?.boolValue ?? false,
            notes: entry.personal["body"]?.stringValue)
    }

    public var payload: [String: Value] {
        var payload: [String: Value] = [
            "solved": .bool(solved), "customerConfirmed": .bool(customerConfirmed),
            "parts": .array(parts.map(Value.string)),
        ]
        if let appointment { payload["appointment"] = .string(appointment.rawValue) }
        return payload
    }

    public var personal: [String: Value] {
        var personal: [String: Value] = ["diagnosis": .string(diagnosis), "done": .string(done)]
        if let notes { personal["body"] = .string(notes) }
        return personal
    }

    /// What is wrong with a report's payload, or `nil` (the server checks it; so does the intent).
    public static func problem(payload: [String: Value], personal: [String: Value]) -> String? {
        guard payload["solved"]?.boolValue != nil, payload["customerConfirmed"]?.boolValue != nil else {
            return "a visit report says whether the problem is solved and whether the customer confirmed it"
        }
        if let parts = payload["parts"], parts.arrayValue?.allSatisfy({ $0.stringValue != nil }) != true {
            return "a visit report's parts are a list of texts"
        }
        for member in ["diagnosis", "done"] {
            guard let text = personal[member]?.stringValue, !text.isEmpty else {
                return "a visit report says the diagnosis and what was done"
            }
        }
        return nil
    }
}

/// A technician's arrival on site or departure (``EntryKind/checkIn``, ``EntryKind/checkOut``),
/// with when it happened on their device (offline included).
public struct VisitStampEntry: Hashable, Sendable {
    /// ``EntryKind/checkIn`` or ``EntryKind/checkOut``.
    public let kind: String
    public var appointment: EntryID?
    public var atMillis: Int64

    public static func checkIn(appointment: EntryID?, atMillis: Int64) -> VisitStampEntry {
        VisitStampEntry(kind: EntryKind.checkIn, appointment: appointment, atMillis: atMillis)
    }

    public static func checkOut(appointment: EntryID?, atMillis: Int64) -> VisitStampEntry {
        VisitStampEntry(kind: EntryKind.checkOut, appointment: appointment, atMillis: atMillis)
    }

    init(kind: String, appointment: EntryID?, atMillis: Int64) {
        self.kind = kind
        self.appointment = appointment
        self.atMillis = atMillis
    }

    public var payload: [String: Value] {
        var payload: [String: Value] = ["at": .int(atMillis)]
        if let appointment { payload["appointment"] = .string(appointment.rawValue) }
        return payload
    }
}

/// The field technician's day: visits in order, check-in, check-out and the report, all offline.
extension Editor {
    /// Kinds only the technician the case is assigned to writes.
    public static let fieldWorkKinds: Set<String> = [EntryKind.checkIn, EntryKind.checkOut, EntryKind.visitReport]

    func requireAssignedTechnician(_ serviceCase: ServiceCase) throws {
        guard author.role == .technician, serviceCase.assignee == author.principal else {
            throw CaseIntentError(
                .forbiddenField, "only the technician the case is assigned to reports on its visits")
        }
    }

    /// Notes an arrival on site or a departure (``VisitStampEntry``), with this device's time.
    @discardableResult
    public mutating func stampVisit(_ stamp: VisitStampEntry, on serviceCase: ServiceCase) throws -> EntryID {
        try requireAssignedTechnician(serviceCase)
        return try append(stamp.kind, to: CaseFields.timeline, of: serviceCase.record.key, payload: stamp.payload)
    }

    /// Reports on a visit; a report that says the problem is solved moves the case to `resolved`
    /// when it reaches the server.
    @discardableResult
    public mutating func reportVisit(_ serviceCase: ServiceCase, _ report: VisitReportEntry) throws -> EntryID {
        try requireAssignedTechnician(serviceCase)
        if let problem = VisitReportEntry.problem(payload: report.payload, personal: report.personal) {
            throw CaseIntentError(.malformed, problem)
        }
        return try append(report, to: serviceCase.record.key)
    }
}

extension ServiceCase {
    /// The confirmed visits of the case, with their slots.
    public var confirmedVisits: [(appointment: Appointment, slot: AppointmentSlot)] {
        appointments.compactMap { appointment in
            guard appointment.purpose == AppointmentPurpose.visit.rawValue,
                let slot = appointment.slots.first(where: { $0.id == appointment.confirmedSlot })
            else { return nil }
            return (appointment, slot)
        }
    }
}
