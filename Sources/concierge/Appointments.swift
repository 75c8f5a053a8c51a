import ArgumentParser
import ConciergeCore
import Foundation

struct AppointmentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "appointment",
        abstract: "Propose time slots (staff); list them; accept or decline them (the customer).",
        subcommands: [Propose.self, List.self, Accept.self, Decline.self, Outcome.self])

    struct Propose: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Propose slots for a callback, video call or visit, checked against the customer's preferences.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument var id: String
        @Option(help: "callback, video or visit.") var purpose: String = "visit"
        @Option(
            help: ArgumentHelp(
                "A slot as start/end with a zone, e.g. 2026-12-09T10:00+01:00/2026-12-09T11:00+01:00 (repeatable).",
                valueName: "start/end"))
        var slot: [String]

        func run() async throws {
            let found = try home.home().findCase(id, account: home.account)
            let slots = try slot.enumerated().map { index, text in try ZonedTime.slot(text, id: "s\(index + 1)") }
            let preferences = try found.serviceCase.customer.flatMap { customer in
                try found.account.replica.visibleRecord(RecordKey(type: .preferences, id: RecordID(customer.rawValue)))
            }.flatMap(ContactPreferences.init)
            var proposal: EntryID?
            let set = try CLIError.from {
                try found.account.replica.edit { editor in
                    proposal = try editor.propose(
                        on: found.key, purpose: purpose, slots: slots, preferences: preferences, nowMillis: nowMillis())
                }
            }
            print("appointment \(proposal?.rawValue ?? "?")")
            for slot in slots { print("  \(slot.id)  \(ZonedTime.describe(slot, customer: preferences))") }
            await after.after(found.account, changed: set)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The case's appointments: each slot in your time zone and the customer's, and what became of it.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var output: JSONOption
        @Argument var id: String

        func run() async throws {
            let found = try home.home().findCase(id, account: home.account)
            let preferences = try found.serviceCase.customer.flatMap { customer in
                try found.account.replica.visibleRecord(RecordKey(type: .preferences, id: RecordID(customer.rawValue)))
            }.flatMap(ContactPreferences.init)
            let appointments = found.serviceCase.appointments
            if output.json {
                return Output.json(
                    .array(
                        appointments.map { appointment in
                            .object([
                                "proposal": .string(appointment.proposal.rawValue),
                                "purpose": appointment.purpose.map(Value.string) ?? .null,
                                "confirmedSlot": appointment.confirmedSlot.map(Value.string) ?? .null,
                                "declinedSlots": .array(appointment.declinedSlots.map(Value.string)),
                                "outcome": appointment.outcome.map { .object($0.payload) } ?? .null,
                                "slots": .array(appointment.slots.map(\.value)),
                            ])
                        }))
            }
            if appointments.isEmpty { print("no appointments proposed") }
            for appointment in appointments {
                var state = appointment.confirmedSlot.map { "confirmed \($0)" } ?? "open"
                if let outcome = appointment.outcome {
                    state +=
                        outcome.outcome == .done
                        ? ", took place" : ", missed by the \(outcome.missedBy?.rawValue ?? "?")"
                }
                print("\(appointment.purpose ?? "appointment") \(appointment.proposal.rawValue.prefix(8))  \(state)")
                for slot in appointment.slots {
                    let mark =
                        slot.id == appointment.confirmedSlot
                        ? " (confirmed)" : appointment.declinedSlots.contains(slot.id) ? " (declined)" : ""
                    print("  \(slot.id)  \(ZonedTime.describe(slot, customer: preferences))\(mark)")
                }
            }
        }
    }

    struct Outcome: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record what became of a confirmed appointment (staff): it took place, or who missed it.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument var id: String
        @Flag(help: "It took place.") var done = false
        @Option(help: "Who missed it: customer or provider.") var missedBy: String?
        @Option(help: "The proposal (its first characters); default: the case's only confirmed one.")
        var proposal: String?
        @Option(help: "A note.") var note: String?

        func validate() throws {
            guard done != (missedBy != nil) else { throw ValidationError("give --done or --missed-by, one of them") }
        }

        func run() async throws {
            try await home.editCase(id, after) { editor, found in
                let confirmed = found.serviceCase.appointments.filter {
                    $0.isConfirmed && (proposal.map($0.proposal.rawValue.hasPrefix) ?? true)
                }
                guard confirmed.count == 1, let appointment = confirmed.first else {
                    throw CLIError(
                        confirmed.isEmpty ? "notFound" : "ambiguousProposal",
                        confirmed.isEmpty
                            ? "no confirmed appointment on this case"
                            : "several confirmed appointments: pick one with --proposal")
                }
                let party = try missedBy.map { text in
                    guard let party = AppointmentOutcomeEntry.Party(rawValue: text) else {
                        throw CLIError("malformed", "--missed-by is customer or provider")
                    }
                    return party
                }
                try editor.recordOutcome(
                    AppointmentOutcomeEntry(
                        appointment: appointment.proposal, outcome: done ? .done : .missed, missedBy: party, note: note),
                    on: found.serviceCase)
            }
        }
    }

    struct Accept: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Accept one slot of a proposal.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument var id: String
        @Argument(help: "The slot id (s1, s2, ...); with several open proposals, --proposal picks one.") var slot:
            String
        @Option(help: "The proposal (its first characters).") var proposal: String?

        func run() async throws { try await AppointmentCommand.answer(home, after, id, slot, proposal, .accept) }
    }

    struct Decline: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Decline one slot of a proposal.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument var id: String
        @Argument var slot: String
        @Option var proposal: String?

        func run() async throws { try await AppointmentCommand.answer(home, after, id, slot, proposal, .decline) }
    }

    /// Answers a slot of the one proposal it can mean: `--proposal` names it, or only one open
    /// proposal (none of its slots confirmed) has a slot of that id; otherwise it asks which.
    static func answer(
        _ home: HomeOptions, _ after: SyncOption, _ id: String, _ slot: String, _ proposal: String?,
        _ answer: AppointmentAnswerEntry.Answer
    ) async throws {
        try await home.editCase(id, after) { editor, found in
            let withSlot = found.serviceCase.appointments.filter { appointment in
                appointment.slots.contains { $0.id == slot }
                    && (proposal.map { appointment.proposal.rawValue.hasPrefix($0) } ?? true)
            }
            let open = withSlot.filter { !$0.isConfirmed }
            let candidates = proposal != nil || open.isEmpty ? withSlot : open
            guard let appointment = candidates.first else {
                throw CLIError("notFound", "no proposal on this case has a slot \(slot)")
            }
            guard candidates.count == 1 else {
                let names = candidates.map { "\($0.purpose ?? "appointment") \($0.proposal.rawValue.prefix(8))" }
                throw CLIError(
                    "ambiguousProposal",
                    "several proposals have a slot \(slot) (\(names.joined(separator: ", "))): pick one with --proposal"
                )
            }
            try editor.answer(on: found.key, proposal: appointment.proposal, slot: slot, answer)
        }
    }
}

/// Times people type and read: ISO 8601 with an offset in; the viewer's zone (and the customer's)
/// out. The wire carries UTC milliseconds.
enum ZonedTime {
    /// Parses `start/end`, each `2026-12-09T10:00+01:00` (seconds optional; `Z` for UTC). A time
    /// without a zone is refused: nobody can tell whose 10:00 it is.
    static func slot(_ text: String, id: String) throws -> AppointmentSlot {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, let start = try instant(parts[0]), let end = try instant(parts[1]) else {
            throw CLIError(
                "badSlot", "\"\(text)\" is not start/end, e.g. 2026-12-09T10:00+01:00/2026-12-09T11:00+01:00")
        }
        return AppointmentSlot(id: id, start: start, end: end)
    }

    static func instant(_ text: String) throws -> Int64? {
        let pattern = #"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:\d{2})?(Z|[+-]\d{2}:\d{2})?$"#
        guard let match = text.wholeMatch(of: try Regex(pattern)) else { return nil }
        guard match.output[3].substring != nil else {
            throw CLIError(
                "badSlot",
                "\(text) has no time zone: add its offset (e.g. +01:00) or Z, so everyone reads the same time")
        }
        let normalised =
            "\(match.output[1].substring!)\(match.output[2].substring ?? ":00")\(match.output[3].substring!)"
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: normalised).map { Int64($0.timeIntervalSince1970 * 1000) }
    }

    /// `Wed 9 Dec 10:00-11:00 (your time, Europe/Berlin); customer: 10:00-11:00 Europe/Berlin`.
    static func describe(_ slot: AppointmentSlot, customer: ContactPreferences?) -> String {
        let viewer = TimeZone.current
        var text = "\(format(slot, in: viewer)) (your time, \(viewer.identifier))"
        if let zone = customer?.timeZone, zone.identifier != viewer.identifier {
            text += "; customer: \(format(slot, in: zone)) \(zone.identifier)"
        }
        return text
    }

    static func format(_ slot: AppointmentSlot, in zone: TimeZone) -> String {
        let day = DateFormatter()
        day.timeZone = zone
        day.locale = Locale(identifier: "en_GB")
        day.dateFormat = "EEE d MMM yyyy HH:mm"
        let time = DateFormatter()
        time.timeZone = zone
        time.dateFormat = "HH:mm"
        let start = Date(timeIntervalSince1970: Double(slot.start) / 1000)
        let end = Date(timeIntervalSince1970: Double(slot.end) / 1000)
        return "\(day.string(from: start))-\(time.string(from: end))"
    }
}

struct Prefs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show or change how and when the provider may contact you (customers); staff read a customer's.")
    @OptionGroup var home: HomeOptions
    @OptionGroup var after: SyncOption
    @OptionGroup var output: JSONOption
    @Option(help: "Staff: the customer whose preferences to show (a supervisor may change them).")
    var customer: String?
    @Option(help: "Allow a channel (repeatable).") var allow: [String] = []
    @Option(help: "Stop allowing a channel (repeatable).") var deny: [String] = []
    @Option(help: "The channel you prefer.") var preferred: String?
    @Option(help: "Quiet hours in your time zone, e.g. 21:00-08:00, or \"none\".") var quiet: String?
    @Option(help: "Your time zone (IANA, e.g. Europe/Berlin): quiet hours follow its daylight saving.")
    var timeZone: String?
    @Option(help: "Consent to a purpose (notices, marketing, surveys; repeatable).") var consent: [String] = []
    @Option(help: "Withdraw consent (repeatable).") var withdraw: [String] = []
    @Option(help: "The channel the consent or withdrawal is for (default: every channel).") var channel: String?
    @Option(help: "The legal basis: consent, contract, legitimateInterest, legalObligation.") var basis = "consent"
    @Option(help: "How it was given: app, web, phone, email, letter, inPerson.") var how = "app"

    func run() async throws {
        let account = try home.home().account(home.account)
        let owner = customer.map(PrincipalID.init) ?? account.author.principal
        let key = RecordKey(type: .preferences, id: RecordID(owner.rawValue))
        var change = PreferencesChange()
        change.allow = allow
        change.deny = deny
        change.preferredChannel = preferred
        change.timeZone = timeZone
        change.consent = consent
        change.withdraw = withdraw
        change.consentChannel = channel
        change.consentBasis = basis
        change.consentHow = how
        change.atMillis = nowMillis()
        if let quiet { change.quietHours = .some(try CLIError.from { try PreferencesChange.quietHours(quiet) }) }
        let changing =
            !allow.isEmpty || !deny.isEmpty || preferred != nil || quiet != nil || timeZone != nil
            || !consent.isEmpty || !withdraw.isEmpty
        if changing {
            let set = try CLIError.from {
                try account.replica.edit { editor in try editor.changePreferences(of: owner, change) }
            }
            await after.after(account, changed: set)
            return
        }
        let preferences = try account.replica.visibleRecord(key).flatMap(ContactPreferences.init)
        let history = preferences?.consentHistory ?? []
        if output.json {
            return Output.json(
                .object([
                    "allowedChannels": preferences?.allowedChannels.map { .array($0.map { .string($0.rawValue) }) }
                        ?? .null,
                    "preferredChannel": preferences?.preferredChannel.map { .string($0.rawValue) } ?? .null,
                    "quietHours": preferences.flatMap(Self.quietText).map(Value.string) ?? .null,
                    "timeZone": preferences?.timeZone.map { .string($0.identifier) } ?? .null,
                    "consents": .array((preferences?.consents ?? []).map(Value.string)),
                    "consentHistory": .array(
                        history.map { entry in
                            var value = entry.payload
                            value["by"] = entry.author.map { .string($0.principal.rawValue) } ?? .null
                            return .object(value)
                        }),
                ]))
        }
        for line in Self.summary(preferences) { print(line) }
        for entry in history {
            print(
                "  \(Output.time(millis: UInt64(max(0, entry.atMillis))))  \(entry.given ? "gave" : "withdrew") \(entry.purpose)"
                    + " on \(entry.channel?.rawValue ?? "every channel"), \(entry.how), basis \(entry.basis)"
                    + (entry.author.map { " (recorded by \($0.principal))" } ?? ""))
        }
    }

    static func quietText(_ preferences: ContactPreferences) -> String? {
        preferences.quietHours.map {
            String(format: "%02d:%02d-%02d:%02d", $0.start / 60, $0.start % 60, $0.end / 60, $0.end % 60)
        }
    }

    /// What staff should know before they contact the customer, a line each.
    static func summary(_ preferences: ContactPreferences?) -> [String] {
        [
            "allowed channels  \(preferences?.allowedChannels?.map(\.rawValue).joined(separator: ", ") ?? "all")",
            "preferred         \(preferences?.preferredChannel?.rawValue ?? "-")",
            "quiet hours       \(preferences.flatMap(quietText) ?? "none")",
            "time zone         \(preferences?.timeZone?.identifier ?? "UTC (none set)")",
            "consents          \(preferences.map { $0.consents.joined(separator: ", ") } ?? "")",
        ]
    }
}
