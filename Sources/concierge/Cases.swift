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
    case EntryKind.message, EntryKind.note: return body ?? "(erased)"
    case EntryKind.statusChange:
        return "status \(entry.payload["from"]?.stringValue ?? "?") -> \(entry.payload["to"]?.stringValue ?? "?")"
    case EntryKind.handoff:
        var text = "handed off to \(entry.payload["to"]?.stringValue ?? "?")"
        if let summary = entry.personal["summary"]?.stringValue { text += ": \(summary)" }
        return text
    case EntryKind.channelSwitch:
        return
            "switched from \(entry.payload["from"]?.stringValue ?? "?") to \(entry.payload["to"]?.stringValue ?? "?")"
    case EntryKind.appointmentProposal:
        let slots = (entry.payload["slots"]?.arrayValue ?? []).map { slot in
            "\(slot["id"]?.stringValue ?? "?") \(Output.time(millis: UInt64(max(0, slot["start"]?.intValue ?? 0))))"
        }
        return "proposes a \(entry.payload["purpose"]?.stringValue ?? "appointment"): \(slots.joined(separator: ", "))"
    case EntryKind.appointmentAnswer:
        return "\(entry.payload["answer"]?.stringValue ?? "answers") slot \(entry.payload["slot"]?.stringValue ?? "?")"
    case EntryKind.followUp:
        return "follow-up case \(entry.payload["case"]?.stringValue ?? "?")"
    case EntryKind.visitReport: return "visit report: \(body ?? "(erased)")"
    case EntryKind.socialPost: return "social post: \(body ?? "(erased)")"
    default: return body ?? "(\(entry.kind))"
    }
}

struct CaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "case", abstract: "Open, read and work on service cases.",
        subcommands: [
            New.self, Show.self, Reply.self, Note.self, StatusChange.self, Assign.self, Handoff.self, Tag.self,
            Rate.self, Close.self, SetField.self,
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
            let author = account.author
            let customer = author.role == .customer ? author.principal.rawValue : self.customer
            guard let customer else { throw CLIError("missingCustomer", "staff name the customer with --customer") }
            let key = RecordKey(type: .serviceCase, id: RecordID(UUID().uuidString.lowercased()))
            let set = try account.replica.edit { editor in
                try editor.write(.string(account.provider.rawValue), to: CaseFields.provider, of: key)
                try editor.write(.string(customer), to: CaseFields.customer, of: key)
                try editor.write(.string(subject), to: CaseFields.subject, of: key)
                try editor.write(.string(channel), to: CaseFields.originChannel, of: key)
                if let category { try editor.write(.string(category), to: CaseFields.category, of: key) }
                if let skill { try editor.write(.string(skill), to: CaseFields.requiredSkill, of: key) }
                if let queue { try editor.write(.string(queue), to: CaseFields.queue, of: key) }
                if let priority { try editor.write(.string(priority), to: CaseFields.priority, of: key) }
                if let message {
                    try editor.append(
                        EntryKind.message, to: CaseFields.timeline, of: key,
                        payload: [
                            "channel": .string(channel),
                            "direction": .string(
                                author.role == .customer ? MessageDirection.inbound : MessageDirection.outbound),
                        ],
                        personal: ["body": .string(message)])
                }
            }
            print(key.id)
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
            if output.json { return Output.json(CaseJSON.value(serviceCase, account: found.account, pending: pending)) }
            print(Output.styled(serviceCase.subject ?? "(no subject)", .bold))
            print("case      \(serviceCase.id)")
            print("provider  \(serviceCase.provider?.rawValue ?? "-")    account \(found.account.label)")
            print("status    \(serviceCase.status)    priority \(serviceCase.priority ?? "-")")
            print(
                "customer  \(serviceCase.customer?.rawValue ?? "-")    assignee \(serviceCase.assignee?.rawValue ?? "-")"
            )
            if let summary = serviceCase.summary { print("summary   \(summary)") }
            if !serviceCase.tags.isEmpty { print("tags      \(serviceCase.tags.joined(separator: ", "))") }
            if let rating = serviceCase.rating { print("rating    \(rating)/5") }
            print("")
            Output.table(
                ["WHEN", "WHO", "CHANNEL", "WHAT"],
                serviceCase.timeline.map { entry in
                    var who = "\(entry.author.principal) (\(entry.author.role))"
                    if serviceCase.isVerified(entry) { who += Output.styled(" verified", .green) }
                    var what = describe(entry)
                    if entry.kind == EntryKind.note { what = Output.styled("[internal] ", .magenta) + what }
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
        @Argument(help: "The message.") var text: String
        @Option(help: "The channel (app, chat, email, phone, sms, ...).") var channel: String = "app"

        func run() async throws {
            try await home.editCase(id, after) { editor, found in
                let inbound = found.account.author.role == .customer || found.account.author.role == .integration
                try editor.append(
                    EntryKind.message, to: CaseFields.timeline, of: found.key,
                    payload: [
                        "channel": .string(channel),
                        "direction": .string(inbound ? MessageDirection.inbound : MessageDirection.outbound),
                    ],
                    personal: ["body": .string(text)])
            }
        }
    }

    struct Note: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an internal note (staff; customers never see it).")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument var id: String
        @Argument(help: "The note.") var text: String

        func run() async throws {
            try await home.editCase(id, after) { editor, found in
                guard found.account.author.role.isStaff else {
                    throw CLIError(
                        "forbidden", "internal notes are for staff; a \(found.account.author.role) cannot add one")
                }
                try editor.append(
                    EntryKind.note, to: CaseFields.timeline, of: found.key, personal: ["body": .string(text)])
            }
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
            try await home.editCase(id, after) { editor, found in try changeStatus(&editor, found, to: target) }
        }
    }

    struct Assign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Assign the case to an agent or technician (staff).")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument var id: String
        @Argument(help: "The principal id.") var assignee: String

        func run() async throws {
            try await home.editCase(id, after) { editor, found in
                try editor.write(.string(assignee), to: CaseFields.assignee, of: found.key)
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
        @Option(help: "Why.") var reason: String?

        func run() async throws {
            try await home.editCase(id, after) { editor, found in
                let from = found.serviceCase.assignee?.rawValue ?? found.account.author.principal.rawValue
                var personal: [String: Value] = ["summary": .string(summary)]
                if let reason { personal["reason"] = .string(reason) }
                try editor.append(
                    EntryKind.handoff, to: CaseFields.timeline, of: found.key,
                    payload: ["from": .string(from), "to": .string(to)], personal: personal)
                try editor.write(.string(to), to: CaseFields.assignee, of: found.key)
                try editor.write(.string(summary), to: CaseFields.summary, of: found.key)
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
            try await home.editCase(id, after) { editor, found in
                if remove {
                    try editor.remove(tag, from: CaseFields.tags, of: found.key)
                } else {
                    try editor.add(tag, to: CaseFields.tags, of: found.key)
                }
            }
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
            try await home.editCase(id, after) { editor, found in
                try editor.write(.int(Int64(stars)), to: CaseFields.rating, of: found.key)
            }
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
            try await home.editCase(id, after) { editor, found in try changeStatus(&editor, found, to: .closed) }
        }
    }
}

extension HomeOptions {
    /// Finds the case `id`, makes one change set on it with `body` (nothing is saved when `body`
    /// throws), then syncs when `--sync` was given or says the change is pending.
    func editCase(_ id: String, _ after: SyncOption, _ body: (inout Editor, FoundCase) throws -> Void) async throws {
        let found = try home().findCase(id, account: account)
        let set = try found.account.replica.edit { editor in try body(&editor, found) }
        await after.after(found.account, changed: set)
    }
}

/// Appends a status change after checking the transition table, so the user hears at once what the
/// server would refuse. Changing to the current status changes nothing.
func changeStatus(_ editor: inout Editor, _ found: FoundCase, to target: CaseStatus) throws {
    let from = found.serviceCase.status
    guard from != target else { return }
    guard
        CaseStatus.isAllowed(from: from, to: target, by: found.account.author, caseCustomer: found.serviceCase.customer)
    else {
        throw CLIError(
            "invalidTransition", "a \(found.account.author.role) cannot move a case from \(from) to \(target)")
    }
    try editor.append(
        EntryKind.statusChange, to: CaseFields.timeline, of: found.key,
        payload: ["from": .string(from.rawValue), "to": .string(target.rawValue)])
}
