import ArgumentParser
import ConciergeCore
import Foundation

struct AppointmentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "appointment", abstract: "Propose time slots (staff); accept or decline them (the customer).",
        subcommands: [Propose.self, Accept.self, Decline.self])

    struct Propose: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Propose slots for a callback, video call or visit.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument var id: String
        @Option(help: "callback, video or visit.") var purpose: String = "visit"
        @Option(
            help: ArgumentHelp(
                "A slot as start/end in UTC, e.g. 2026-11-25T09:00/2026-11-25T11:00 (repeat for more).",
                valueName: "start/end"))
        var slot: [String]

        func run() async throws {
            let found = try home.home().findCase(id, account: home.account)
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withDashSeparatorInDate]
            let slots = try slot.enumerated().map { index, text -> AppointmentSlot in
                let parts = text.split(separator: "/").map { String($0) + (String($0).count == 16 ? ":00" : "") }
                guard parts.count == 2, let start = formatter.date(from: parts[0]),
                    let end = formatter.date(from: parts[1]),
                    end > start
                else {
                    throw CLIError("badSlot", "\"\(text)\" is not start/end, e.g. 2026-11-25T09:00/2026-11-25T11:00")
                }
                return AppointmentSlot(
                    id: "s\(index + 1)", start: Int64(start.timeIntervalSince1970 * 1000),
                    end: Int64(end.timeIntervalSince1970 * 1000))
            }
            guard !slots.isEmpty else { throw CLIError("badSlot", "propose at least one --slot") }
            var proposal: EntryID?
            let set = try found.account.replica.edit { editor in
                proposal = try editor.propose(on: found.key, purpose: purpose, slots: slots)
            }
            print(
                "appointment \(proposal?.rawValue ?? "?") with slots \((1...slots.count).map { "s\($0)" }.joined(separator: ", "))"
            )
            await after.after(found.account, changed: set)
        }
    }

    struct Accept: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Accept one slot of a proposal.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument var id: String
        @Argument(help: "The slot id (s1, s2, ...); with several proposals, --proposal picks one.") var slot: String
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

    static func answer(
        _ home: HomeOptions, _ after: SyncOption, _ id: String, _ slot: String, _ proposal: String?,
        _ answer: AppointmentAnswerEntry.Answer
    ) async throws {
        try await home.editCase(id, after) { editor, found in
            let candidates = found.serviceCase.appointments.filter { appointment in
                appointment.slots.contains { $0.id == slot }
                    && (proposal.map { appointment.proposal.rawValue.hasPrefix($0) } ?? true)
            }
            guard let appointment = candidates.last else {
                throw CLIError("notFound", "no proposal on this case has a slot \(slot)")
            }
            try editor.answer(on: found.key, proposal: appointment.proposal, slot: slot, answer)
        }
    }
}

struct Prefs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show or change how and when the provider may contact you (customers).")
    @OptionGroup var home: HomeOptions
    @OptionGroup var after: SyncOption
    @OptionGroup var output: JSONOption
    @Option(help: "Allow a channel (repeatable).") var allow: [String] = []
    @Option(help: "Stop allowing a channel (repeatable).") var deny: [String] = []
    @Option(help: "The channel you prefer.") var preferred: String?
    @Option(help: "Quiet hours, local time, e.g. 21:00-08:00, or \"none\".") var quiet: String?
    @Option(help: "Your offset from UTC in minutes, e.g. 60.") var utcOffset: Int?
    @Option(help: "Consent to a purpose (survey, marketing; repeatable).") var consent: [String] = []
    @Option(help: "Withdraw consent (repeatable).") var withdraw: [String] = []

    func run() async throws {
        let account = try home.home().account(home.account)
        let key = RecordKey(type: .preferences, id: RecordID(account.author.principal.rawValue))
        let changing =
            !allow.isEmpty || !deny.isEmpty || preferred != nil || quiet != nil || utcOffset != nil
            || !consent.isEmpty || !withdraw.isEmpty
        if changing {
            let quietValue: Value? = try quiet.map { text in
                if text == "none" { return .null }
                let parts = text.split(separator: "-").map { $0.split(separator: ":").compactMap { Int($0) } }
                guard parts.count == 2,
                    parts.allSatisfy({ $0.count == 2 && (0..<24).contains($0[0]) && (0..<60).contains($0[1]) })
                else { throw CLIError("badQuietHours", "quiet hours look like 21:00-08:00") }
                return .object([
                    "start": .int(Int64(parts[0][0] * 60 + parts[0][1])),
                    "end": .int(Int64(parts[1][0] * 60 + parts[1][1])),
                ])
            }
            let set = try account.replica.edit { editor in
                for channel in allow { try editor.add(channel, to: PreferenceFields.allowedChannels, of: key) }
                for channel in deny { try editor.remove(channel, from: PreferenceFields.allowedChannels, of: key) }
                if let preferred {
                    try editor.write(.string(preferred), to: PreferenceFields.preferredChannel, of: key)
                }
                if let quietValue { try editor.write(quietValue, to: PreferenceFields.quietHours, of: key) }
                if let utcOffset {
                    try editor.write(.int(Int64(utcOffset)), to: PreferenceFields.utcOffsetMinutes, of: key)
                }
                for purpose in consent { try editor.add(purpose, to: PreferenceFields.consents, of: key) }
                for purpose in withdraw { try editor.remove(purpose, from: PreferenceFields.consents, of: key) }
            }
            await after.after(account, changed: set)
            return
        }
        let preferences = try account.replica.visibleRecord(key).flatMap(ContactPreferences.init)
        let allowed = preferences?.allowedChannels?.map(\.rawValue)
        let quietText = preferences?.quietHours.map {
            String(format: "%02d:%02d-%02d:%02d", $0.start / 60, $0.start % 60, $0.end / 60, $0.end % 60)
        }
        if output.json {
            return Output.json(
                .object([
                    "allowedChannels": allowed.map { .array($0.map(Value.string)) } ?? .null,
                    "preferredChannel": preferences?.preferredChannel.map { .string($0.rawValue) } ?? .null,
                    "quietHours": quietText.map(Value.string) ?? .null,
                    "utcOffsetMinutes": .int(Int64(preferences?.utcOffsetMinutes ?? 0)),
                    "consents": .array((preferences?.consents ?? []).map(Value.string)),
                ]))
        }
        print("allowed channels  \(allowed?.joined(separator: ", ") ?? "all")")
        print("preferred         \(preferences?.preferredChannel?.rawValue ?? "-")")
        print("quiet hours       \(quietText ?? "none")")
        print("consents          \(preferences?.consents.joined(separator: ", ") ?? "")")
    }
}
