import ArgumentParser
import ConciergeCore
import Foundation

/// `concierge visit`: the field technician's day, offline: the visits of the day in order, check-in
/// and check-out on the case, and the visit report; all synced later.
struct VisitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "visit", abstract: "A technician's day: today's visits, check-in, report, check-out (offline).",
        subcommands: [List.self, CheckIn.self, CheckOut.self, Report.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The confirmed visits of a day on cases assigned to you, in order, with where to go next.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var output: JSONOption
        @Option(help: "The day, e.g. 2027-06-15 (default: today, in your time zone).") var day: String?

        func run() async throws {
            let account = try home.home().account(home.account)
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone.current
            let start: Date
            if let day {
                let parts = day.split(separator: "-").compactMap { Int($0) }
                guard parts.count == 3,
                    let date = calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2]))
                else { throw CLIError("badDay", "a day looks like 2027-06-15") }
                start = date
            } else {
                start = calendar.startOfDay(for: Date())
            }
            let end = calendar.date(byAdding: .day, value: 1, to: start)!
            let range = Int64(start.timeIntervalSince1970 * 1000)..<Int64(end.timeIntervalSince1970 * 1000)
            let cases = try account.replica.visibleRecords(of: .serviceCase).compactMap(ServiceCase.init)
                .filter { $0.assignee == account.author.principal }
            var visits: [(serviceCase: ServiceCase, slot: AppointmentSlot, appointment: Appointment)] = []
            for serviceCase in cases {
                for visit in serviceCase.confirmedVisits where range.contains(visit.slot.start) {
                    visits.append((serviceCase, visit.slot, visit.appointment))
                }
            }
            visits.sort { ($0.slot.start, $0.serviceCase.id.rawValue) < ($1.slot.start, $1.serviceCase.id.rawValue) }
            func address(_ serviceCase: ServiceCase) throws -> String? {
                try serviceCase.customer.flatMap { customer in
                    try account.replica.visibleRecord(RecordKey(type: .profile, id: RecordID(customer.rawValue)))
                }?.value(ProfileFields.address)?.stringValue
            }
            if output.json {
                return Output.json(
                    .array(
                        try visits.map { visit in
                            .object([
                                "case": .string(visit.serviceCase.id.rawValue),
                                "subject": visit.serviceCase.subject.map(Value.string) ?? .null,
                                "appointment": .string(visit.appointment.proposal.rawValue),
                                "start": .int(visit.slot.start), "end": .int(visit.slot.end),
                                "address": try address(visit.serviceCase).map(Value.string) ?? .null,
                                "status": .string(visit.serviceCase.status.rawValue),
                            ])
                        }))
            }
            if visits.isEmpty { print("no visits that day") }
            for (index, visit) in visits.enumerated() {
                let next = index == 0 ? "first" : "then"
                print(
                    "\(next): \(ZonedTime.format(visit.slot, in: TimeZone.current))  \(visit.serviceCase.id.rawValue.prefix(8))  \(visit.serviceCase.subject ?? "-")  \(visit.serviceCase.status)"
                )
                print("       go to: \(try address(visit.serviceCase) ?? "(no address on this device)")")
            }
        }
    }

    struct CheckIn: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "checkin", abstract: "Note that you arrived on site (now, by this device's clock).")
        @OptionGroup var stamp: StampOptions

        func run() async throws { try await stamp.record(VisitStampEntry.checkIn) }
    }

    struct CheckOut: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "checkout", abstract: "Note that you left the site.")
        @OptionGroup var stamp: StampOptions

        func run() async throws { try await stamp.record(VisitStampEntry.checkOut) }
    }

    /// What check-in and check-out take: the case, on its last confirmed visit, now.
    struct StampOptions: ParsableArguments {
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument var id: String

        func record(_ make: @escaping (EntryID?, Int64) -> VisitStampEntry) async throws {
            try await home.editCase(id, after) { editor, found in
                let visit = found.serviceCase.confirmedVisits.last?.appointment.proposal
                try editor.stampVisit(make(visit, nowMillis()), on: found.serviceCase)
            }
        }
    }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report on the visit; --solved moves the case to resolved (for the agent to close).")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument var id: String
        @Option(help: "What you found.") var diagnosis: String
        @Option(help: "What you did.") var done: String
        @Option(help: "A part you used (repeatable).") var part: [String] = []
        @Flag(help: "The problem is solved.") var solved = false
        @Flag(help: "The customer confirmed it on site.") var confirmed = false
        @Option(help: "Anything else.") var notes: String?

        func run() async throws {
            try await home.editCase(id, after) { editor, found in
                try editor.reportVisit(
                    found.serviceCase,
                    VisitReportEntry(
                        appointment: found.serviceCase.confirmedVisits.last?.appointment.proposal,
                        diagnosis: diagnosis, done: done, parts: part, solved: solved, customerConfirmed: confirmed,
                        notes: notes))
            }
        }
    }
}
