import ArgumentParser
import ConciergeClient
import ConciergeCore
import ConciergeStore
import Foundation

/// A case found on one of the accounts.
struct FoundCase {
    let account: Account
    let serviceCase: ServiceCase
    var key: RecordKey { serviceCase.record.key }
}

extension Home {
    /// The case whose id starts with `prefix` (at least 4 characters), on the account `selector`
    /// names or on any account.
    func findCase(_ prefix: String, account selector: String?) throws -> FoundCase {
        let prefix = prefix.lowercased()
        guard prefix.count >= 4 else { throw CLIError("badCase", "give at least 4 characters of the case id") }
        var found: [FoundCase] = []
        for account in try accounts(selector) {
            for record in try account.replica.visibleRecords(of: .serviceCase)
            where record.id.rawValue.hasPrefix(prefix) {
                if let serviceCase = ServiceCase(record) {
                    found.append(FoundCase(account: account, serviceCase: serviceCase))
                }
            }
        }
        guard found.count == 1 else {
            throw found.isEmpty
                ? CLIError("notFound", "no case \(prefix) on this device (sync first?)")
                : CLIError("ambiguousCase", "\(prefix) matches several cases; give more of the id or --account")
        }
        return found[0]
    }
}

/// What a timeline entry says, in one line.
func describe(_ entry: LogEntry) -> String {
    let body = entry.personal["body"]?.stringValue
    switch entry.kind {
    case EntryKind.message:
        let urgent =
            entry.payload["overridesQuietHours"] == .bool(true)
            ? "[urgent, in quiet hours] " : entry.payload["urgent"] == .bool(true) ? "[urgent] " : ""
        return urgent + (body ?? "(erased)")
    case EntryKind.note: return body ?? "(erased)"
    case EntryKind.statusChange:
        return "status \(entry.payload["from"]?.stringValue ?? "?") -> \(entry.payload["to"]?.stringValue ?? "?")"
    case EntryKind.handoff:
        var text = "handed off to \(entry.payload["to"]?.stringValue ?? "?")"
        if let team = entry.payload["team"]?.stringValue { text += " (team \(team))" }
        if let summary = entry.personal["summary"]?.stringValue { text += ": \(summary)" }
        if let reason = entry.personal["reason"]?.stringValue { text += " [why: \(reason)]" }
        return text
    case EntryKind.assignment:
        guard let assignment = AssignmentEntry(entry) else { return "assigned" }
        return "assigned to \(assignment.to) by routing, \(assignment.explanation)"
    case EntryKind.channelSwitch:
        return
            "switched from \(entry.payload["from"]?.stringValue ?? "?") to \(entry.payload["to"]?.stringValue ?? "?")"
    case EntryKind.appointmentProposal:
        let slots = (entry.payload["slots"]?.arrayValue ?? []).map { slot in
            "\(slot["id"]?.stringValue ?? "?") \(Output.time(millis: UInt64(max(0, slot["start"]?.intValue ?? 0))))"
        }
        return
            "proposes \(Words.withArticle(entry.payload["purpose"]?.stringValue ?? "appointment")): \(slots.joined(separator: ", "))"
    case EntryKind.appointmentOutcome:
        guard let outcome = AppointmentOutcomeEntry(entry) else { return "appointment outcome" }
        return outcome.outcome == .done
            ? "the appointment took place" : "the appointment was missed by the \(outcome.missedBy?.rawValue ?? "?")"
    case EntryKind.appointmentAnswer:
        return "\(entry.payload["answer"]?.stringValue ?? "answers") slot \(entry.payload["slot"]?.stringValue ?? "?")"
    case EntryKind.delivery:
        var text = "\(entry.payload["result"]?.stringValue ?? "?") by \(entry.payload["channel"]?.stringValue ?? "?")"
        if let detail = entry.personal["detail"]?.stringValue { text += ": \(detail)" }
        return text
    case EntryKind.followUp:
        return "follow-up case \(entry.payload["case"]?.stringValue ?? "?")"
    case EntryKind.visitReport:
        guard let report = VisitReportEntry(entry), !report.diagnosis.isEmpty else { return "visit report (erased)" }
        var text = "visit report: \(report.diagnosis); did: \(report.done)"
        if !report.parts.isEmpty { text += "; parts: \(report.parts.joined(separator: ", "))" }
        text += report.solved ? "; solved" : "; not solved"
        if report.customerConfirmed { text += ", confirmed by the customer" }
        if let notes = report.notes { text += " (\(notes))" }
        return text
    case EntryKind.checkIn, EntryKind.checkOut:
        let at = Output.time(millis: UInt64(max(0, entry.payload["at"]?.intValue ?? 0)))
        return entry.kind == EntryKind.checkIn ? "arrived on site at \(at)" : "left the site at \(at)"
    case EntryKind.socialPost: return "social post: \(body ?? "(erased)")"
    default: return body ?? "(\(entry.kind))"
    }
}

struct CaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "case", abstract: "Open, read and work on service cases.",
        subcommands: [
            New.self, Show.self, Reply.self, Note.self, StatusChange.self, Assign.self, Handoff.self,
            SwitchChannel.self, Tag.self, Rate.self, Close.self, SetField.self, Merge.self, Unmerge.self, Link.self,
        ])

    struct New: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open a case (offline too); prints its id.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Option(help: "What it is about.") var subject: String
        @Option(help: "The first message.") var message: String?
        @Option(help: "Category, e.g. billing.") var category: String?
        @Option(help: "Required skill (staff).") var skill: String?
        @Option(help: "Queue (staff).") var queue: String?
        @Option(help: "Priority (staff).") var priority: String?
        @Option(help: "The customer, when staff opens the case.") var customer: String?
        @Option(help: "The channel it came in on.") var channel: String = "app"

        func run() async throws {
            let account = try home.home().account(home.account)
            guard account.author.role == .customer || customer != nil else {
                throw CLIError("missingCustomer", "staff name the customer with --customer")
            }
            let intent = NewCaseIntent(
                provider: account.provider, subject: subject, customer: customer.map(PrincipalID.init),
                message: message, channel: Channel(channel), category: category, requiredSkill: skill, queue: queue,
                priority: priority)
            var key: RecordKey?
            let set = try CLIError.from { try account.replica.edit { editor in key = try editor.openCase(intent) } }
            print(key.map { $0.id.rawValue } ?? "")
            await after.after(account, changed: set)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The whole timeline across channels: who, when, channel, verified, concurrent edits.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var output: JSONOption
        @Argument(help: "The case id (or its first characters).") var id: String

        func run() async throws {
            let found = try home.home().findCase(id, account: home.account)
            let serviceCase = found.serviceCase
            let pending = Set(
                try found.account.replica.outbox().flatMap { item in
                    item.changeSet.changes.compactMap { change -> EntryID? in
                        guard change.key == found.key, case .append(_, let entry) = change.change else { return nil }
                        return entry.id
                    }
                })
            if let last = serviceCase.timeline.last {
                try found.account.file.markRead(serviceCase.id, seen: String(last.stamp.hlc.rawValue))
            }
            let merges = MergedCases(
                try found.account.replica.visibleRecords(of: .serviceCase).compactMap(ServiceCase.init))
            if output.json {
                return Output.json(
                    CaseJSON.value(serviceCase, account: found.account, pending: pending, merges: merges))
            }
            print(Output.styled(serviceCase.subject ?? "(no subject)", .bold))
            print("case      \(serviceCase.id)")
            print("provider  \(serviceCase.provider?.rawValue ?? "-")    account \(found.account.label)")
            print("status    \(serviceCase.status)    priority \(serviceCase.priority ?? "-")")
            print(
                "customer  \(serviceCase.customer?.rawValue ?? "-")    assignee \(serviceCase.assignee?.rawValue ?? "-")"
            )
            if let marker = serviceCase.record.mergeMarker {
                let by = serviceCase.record.register(MergeFields.mergedInto)?.latest.author.principal.rawValue ?? "?"
                let survivor = merges.survivor(of: serviceCase.id)
                print(
                    Output.styled("merged", .yellow)
                        + "    into \(survivor) by \(by)\(marker.reason.map { ": \($0)" } ?? "") (undo: case unmerge)")
            }
            let mergedHere = merges.merged(into: serviceCase.id)
            if !mergedHere.isEmpty {
                print("merged    here: \(mergedHere.map { String($0.id.rawValue.prefix(8)) }.joined(separator: ", "))")
            }
            if !serviceCase.links.isEmpty {
                print("linked    \(serviceCase.links.map { String($0.prefix(8)) }.joined(separator: ", "))")
            }
            if let summary = serviceCase.summary { print("summary   \(summary)") }
            // Staff read how the customer may be contacted before they contact them.
            if found.account.author.role.isStaff, let customer = serviceCase.customer,
                let preferences = try found.account.replica.visibleRecord(
                    RecordKey(type: .preferences, id: RecordID(customer.rawValue))
                ).flatMap(ContactPreferences.init)
            {
                let quiet = Prefs.quietText(preferences).map {
                    " quiet \($0) \(preferences.timeZone?.identifier ?? "UTC")"
                }
                print(
                    "contact   \(preferences.allowedChannels?.map(\.rawValue).joined(separator: ", ") ?? "any channel")"
                        + "\(quiet ?? ""); consents: \(preferences.consents.joined(separator: ", "))")
            }
            if !serviceCase.tags.isEmpty { print("tags      \(serviceCase.tags.joined(separator: ", "))") }
            if let rating = serviceCase.rating { print("rating    \(rating)/5") }
            print("")
            Output.table(
                ["WHEN", "WHO", "CHANNEL", "WHAT"],
                merges.timeline(of: serviceCase.id).map { stored, entry in
                    let home = merges.cases[stored] ?? serviceCase
                    var who = "\(entry.author.principal) (\(entry.author.role))"
                    if home.isVerified(entry) {
                        who += Output.styled(" verified", .green)
                    } else if let identity = home.identity(of: entry) {
                        who += Output.styled(" \(identity)", .yellow)
                    }
                    var what = describe(entry)
                    if entry.kind == EntryKind.note { what = Output.styled("[internal] ", .magenta) + what }
                    if stored != serviceCase.id { what = "[from \(stored.rawValue.prefix(8))] " + what }
                    if pending.contains(entry.id) { what += Output.styled("  (pending)", .yellow) }
                    return [
                        Output.time(millis: entry.stamp.hlc.millis), who, entry.payload["channel"]?.stringValue ?? "-",
                        what,
                    ]
                })
            for (field, groups) in serviceCase.conflicts.sorted(by: { $0.key < $1.key }) {
                for group in groups {
                    let values = group.writes.map {
                        "\"\($0.value.stringValue ?? CanonicalJSON.string($0.value))\" by \($0.author.principal)"
                    }
                    print(
                        Output.styled("concurrent edit", .yellow)
                            + ": \(field) was set to \(values.joined(separator: " and ")) at the same time; kept \"\(group.kept.value.stringValue ?? CanonicalJSON.string(group.kept.value))\" (the later stamp)"
                    )
                }
            }
            for appointment in serviceCase.appointments {
                let state = appointment.confirmedSlot.map { "confirmed slot \($0)" } ?? "awaiting the customer"
                print(
                    "appointment \(appointment.proposal.rawValue.prefix(8)) (\(appointment.purpose ?? "-")): \(state)")
            }
        }
    }

    struct Reply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a message on the case.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument var id: String
        @Argument(
            parsing: .allUnrecognized,
            help: "The message; it may start with a dash (\"-5 degrees in the flat\").")
        var words: [String] = []
        @Option(help: "The channel (app, chat, email, phone, sms, ...).") var channel: String = "app"
        @Option(help: "Why staff write (service, notices, marketing, surveys); outside service it needs consent.")
        var purpose: String?
        @Flag(help: "An urgent service message: through quiet hours if the provider's policy allows it.")
        var urgent = false

        func run() async throws {
            let text = try MessageText.of(words, "message")
            let found = try home.home().findCase(id, account: home.account)
            let preferences = try found.serviceCase.customer.flatMap { customer in
                try found.account.replica.visibleRecord(RecordKey(type: .preferences, id: RecordID(customer.rawValue)))
            }
            let policy = RoutingTable(
                try found.account.replica.visibleRecord(
                    RecordKey(type: .routing, id: RecordID(found.account.provider.rawValue))))
            try await home.editCase(found, after) { editor in
                try editor.reply(
                    on: found.serviceCase, body: text, channel: Channel(channel), purpose: purpose,
                    preferences: preferences.flatMap(ContactPreferences.init),
                    nowMillis: Int64(Date().timeIntervalSince1970 * 1000), urgent: urgent,
                    urgentInQuietHours: policy.urgentInQuietHours)
            }
        }
    }

    struct Note: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an internal note (staff; customers never see it).")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument var id: String
        @Argument(parsing: .allUnrecognized, help: "The note; it may start with a dash.") var words: [String] = []

        func run() async throws {
            let text = try MessageText.of(words, "note")
            try await home.editCase(id, after) { editor, found in try editor.note(on: found.key, body: text) }
        }
    }

    struct StatusChange: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status", abstract: "Change the status: open, pending, onHold, resolved or closed.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument var id: String
        @Argument(help: "The new status.") var status: String

        func run() async throws {
            guard let target = CaseStatus(rawValue: status) else {
                throw CLIError(
                    "badStatus",
                    "\"\(status)\" is not a status: \(CaseStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            try await home.editCase(id, after) { editor, found in
                try editor.changeStatus(of: found.serviceCase, to: target)
            }
        }
    }

    struct Assign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Assign the case to an agent or technician, or let the server's routing choose (staff).")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument var id: String
        @Argument(help: "The principal id.") var assignee: String?
        @Flag(help: "Let the server choose: skill, availability, capacity, continuity (an entry says why).")
        var auto = false

        func validate() throws {
            guard (assignee == nil) == auto else {
                throw ValidationError("name the assignee, or --auto for the server's routing (not both)")
            }
        }

        func run() async throws {
            try await home.editCase(id, after) { editor, found in
                if let assignee {
                    try editor.assign(found.key, to: PrincipalID(assignee))
                } else {
                    try editor.assignAutomatically(found.key)
                }
            }
        }
    }

    struct Handoff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hand the case to a colleague with what we know so far, so nobody asks the customer again.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument var id: String
        @Argument(help: "Who takes over (principal id).") var to: String
        @Option(help: "What we know so far (also becomes the case summary).") var summary: String
        @Option(help: "Why (staff only: the customer never sees it).") var reason: String?
        @Option(help: "The team (skill) it moves to, which the customer sees.") var team: String?

        func run() async throws {
            try await home.editCase(id, after) { editor, found in
                try editor.handoff(found.serviceCase, to: PrincipalID(to), summary: summary, reason: reason, team: team)
            }
        }
    }

    struct SwitchChannel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "switch",
            abstract: "Note that the conversation moved to another channel (a chat becoming a call), on the same case.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument(help: "The case id (or its first characters).") var id: String
        @Option(help: "The channel it moves to (app, chat, email, phone, sms, social, letter, video, fieldVisit).")
        var to: String
        @Option(help: "The channel it moves from (default: the channel of the case's last message).")
        var from: String?

        func run() async throws {
            try await home.editCase(id, after) { editor, found in
                try editor.switchChannel(found.serviceCase, to: Channel(to), from: from.map(Channel.init))
            }
        }
    }

    struct Tag: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add (or with --remove, remove) a tag (staff).")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument var id: String
        @Argument var tag: String
        @Flag var remove = false

        func run() async throws {
            try await home.editCase(id, after) { editor, found in try editor.tag(found.key, tag, remove: remove) }
        }
    }

    struct Rate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rate the service, 1 to 5 (the customer).")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument var id: String
        @Argument var stars: Int

        func run() async throws {
            guard (1...5).contains(stars) else { throw CLIError("badRating", "a rating is 1 to 5") }
            try await home.editCase(id, after) { editor, found in try editor.rate(found.key, stars: stars) }
        }
    }

    struct SetField: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set", abstract: "Set a field: priority, category, requiredSkill, queue, summary or subject.")
        static let fields = [
            CaseFields.priority, CaseFields.category, CaseFields.requiredSkill, CaseFields.queue, CaseFields.summary,
            CaseFields.subject,
        ]
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument var id: String
        @Argument(help: "The field.") var field: String
        @Argument(help: "The new value.") var value: String

        func run() async throws {
            guard Self.fields.contains(field) else {
                throw CLIError(
                    "badField", "\"\(field)\" cannot be set here; one of \(Self.fields.joined(separator: ", "))")
            }
            try await home.editCase(id, after) { editor, found in
                try editor.write(.string(value), to: field, of: found.key)
            }
        }
    }

    struct Close: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Close the case.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument var id: String

        func run() async throws {
            try await home.editCase(id, after) { editor, found in
                try editor.changeStatus(of: found.serviceCase, to: .closed)
            }
        }
    }
}

extension HomeOptions {
    /// Finds the case `id`, makes one change set on it with `body` (nothing is saved when `body`
    /// throws), then syncs when `--sync` was given or says the change is pending.
    func editCase(_ id: String, _ after: SyncOption, _ body: (inout Editor, FoundCase) throws -> Void) async throws {
        let found = try home().findCase(id, account: account)
        try await editCase(found, after) { editor in try body(&editor, found) }
    }

    /// Makes one change set on a case already found (see ``editCase(_:_:_:)``); `body` must not
    /// read the replica (its methods are not reentrant).
    func editCase(_ found: FoundCase, _ after: SyncOption, _ body: (inout Editor) throws -> Void) async throws {
        let set = try CLIError.from { try found.account.replica.edit { editor in try body(&editor) } }
        await after.after(found.account, changed: set)
    }
}

/// The text of a message or note typed as the command's last argument: it may start with a dash
/// (`-5 degrees in the flat`), which an argument parser would take for an option.
enum MessageText {
    static func of(_ words: [String], _ what: String) throws -> String {
        let text = words.joined(separator: " ")
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw CLIError("emptyMessage", "the \(what) is empty; write it after the case id, in quotes")
        }
        // A word like --snyc is a mistyped option more likely than a message.
        if let word = words.first(where: { $0.hasPrefix("--") }) {
            throw CLIError(
                "unknownOption",
                "\(word) is no option of this command (see --help); a \(what) may start with one dash, not two"
            )
        }
        return text
    }
}
