import ArgumentParser
import ConciergeCore
import Foundation

/// `concierge staff`: the provider's directory (who can solve what, how much at once, who is on
/// shift), as this replica holds it: offline like everything else.
struct StaffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "staff",
        abstract: "The staff directory: skills, capacity per channel, who is on shift (routing reads it).",
        subcommands: [List.self, Set.self, Status.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the directory, with each member's open cases (supervisors see the workloads).")
        @OptionGroup var home: HomeOptions
        @OptionGroup var output: JSONOption

        func run() async throws {
            let account = try home.home().account(home.account)
            let members = try account.replica.visibleRecords(of: .staff).compactMap(StaffMember.init)
                .filter { !$0.record.isDeleted }.sorted { utf8Precedes($0.id.rawValue, $1.id.rawValue) }
            var workloads: [String: Workload] = [:]
            for record in try account.replica.visibleRecords(of: .workload) {
                workloads[record.id.rawValue] = Workload(record)
            }
            if output.json {
                return Output.json(
                    .array(
                        members.map { member in
                            .object([
                                "id": .string(member.id.rawValue),
                                "name": member.displayName.map(Value.string) ?? .null,
                                "role": member.role.map { .string($0.rawValue) } ?? .null,
                                "skills": .array(member.skills.map(Value.string)),
                                "capacity": member.capacity.value,
                                "availability": .string(member.availability.rawValue),
                                "homeRegion": member.homeRegion.map(Value.string) ?? .null,
                                "openCases": workloads[member.id.rawValue].map { .int(Int64($0.openCases.count)) }
                                    ?? .null,
                            ])
                        }))
            }
            Output.table(
                ["ID", "NAME", "ROLE", "SKILLS", "CAPACITY", "AVAILABILITY", "OPEN", "REGION"],
                members.map { member in
                    [
                        member.id.rawValue, member.displayName ?? "-", member.role?.rawValue ?? "-",
                        member.skills.joined(separator: ","), member.capacity.description,
                        member.availability.rawValue,
                        workloads[member.id.rawValue].map { String($0.openCases.count) } ?? "-",
                        member.homeRegion ?? "-",
                    ]
                })
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a staff member to the directory or change their entry (supervisors).")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument(help: "Their principal id.") var id: String
        @Option(help: "Their name as the directory shows it.") var name: String?
        @Option(help: "Their role: agent, specialist, technician or supervisor.") var role: String?
        @Option(help: "A skill they have (repeatable).") var skill: [String] = []
        @Option(help: "A skill they no longer have (repeatable).") var removeSkill: [String] = []
        @Option(help: "Cases at once per channel, e.g. chat=3,email=10,phone=1 (* for any other).")
        var capacity: String?
        @Option(help: "A technician's home region.") var region: String?

        func run() async throws {
            let account = try home.home().account(home.account)
            var change = Editor.StaffChange(provider: account.provider)
            change.displayName = name
            change.role = role.map(Role.init)
            change.addSkills = skill
            change.removeSkills = removeSkill
            change.capacity = try CLIError.from { try capacity.map(Capacity.parse) }
            change.homeRegion = region
            let set = try CLIError.from {
                try account.replica.edit { editor in try editor.setStaff(PrincipalID(id), change) }
            }
            await after.after(account, changed: set)
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say whether you take cases now: onShift, away or off (a supervisor may set anyone's).")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument(help: "onShift, away or off.") var availability: String
        @Option(name: .customLong("for"), help: "Supervisors: whose availability.") var member: String?

        func run() async throws {
            guard let value = Availability(rawValue: availability) else {
                throw CLIError(
                    "malformed",
                    "availability is one of \(Availability.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let account = try home.home().account(home.account)
            let id = member.map(PrincipalID.init) ?? account.author.principal
            let set = try CLIError.from {
                try account.replica.edit { editor in try editor.setAvailability(value, of: id) }
            }
            await after.after(account, changed: set)
        }
    }
}

/// `concierge routing`: the provider's routing table (which skill a category needs, when a
/// waiting case may go to anyone), and the cases waiting for someone.
struct RoutingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routing", abstract: "The provider's routing table, and the cases waiting for an owner.",
        subcommands: [Show.self, Set.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the table and the waiting cases.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var output: JSONOption

        func run() async throws {
            let account = try home.home().account(home.account)
            let table = RoutingTable(
                try account.replica.visibleRecord(RecordKey(type: .routing, id: RecordID(account.provider.rawValue))))
            let waiting = table.waiting.sorted { ($0.value, $0.key) < ($1.value, $1.key) }
            if output.json {
                return Output.json(
                    .object([
                        "skillByCategory": .object(table.skillByCategory.mapValues(Value.string)),
                        "wideningMinutes": table.wideningMinutes.map { .int(Int64($0)) } ?? .null,
                        "waiting": .array(
                            waiting.map { .object(["case": .string($0.key), "since": .int($0.value)]) }),
                    ]))
            }
            for category in table.skillByCategory.keys.sorted(by: utf8Precedes) {
                print("category \(category) -> skill \(table.skillByCategory[category]!)")
            }
            print("widening: \(table.wideningMinutes.map { "after \($0) min" } ?? "never")")
            print("urgent service messages in quiet hours: \(table.urgentInQuietHours ? "allowed" : "not allowed")")
            print("waiting: \(waiting.count)")
            for (id, since) in waiting {
                print("  \(id.prefix(8))  since \(Output.time(millis: UInt64(max(0, since))))")
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change the routing table (supervisors).")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Option(help: "category=skill: cases of the category need the skill (category= removes it; repeatable).")
        var category: [String] = []
        @Option(help: "Minutes a case waits for its skill before anyone available may take it (\"never\" to stop).")
        var widenAfter: String?
        @Option(help: "Whether urgent service messages may go through customers' quiet hours: allow or deny.")
        var urgentInQuietHours: String?

        func run() async throws {
            let account = try home.home().account(home.account)
            var table: [String: String?] = [:]
            for pair in category {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else {
                    throw CLIError("malformed", "--category looks like billing=billing (or billing= to remove it)")
                }
                table[parts[0]] = .some(parts[1].isEmpty ? nil : parts[1])
            }
            var widening: Int?? = nil
            if let widenAfter {
                if widenAfter == "never" {
                    widening = .some(nil)
                } else if let minutes = Int(widenAfter), minutes >= 0 {
                    widening = .some(minutes)
                } else {
                    throw CLIError("malformed", "--widen-after is a number of minutes, or never")
                }
            }
            var urgent: Bool?
            if let urgentInQuietHours {
                guard ["allow", "deny"].contains(urgentInQuietHours) else {
                    throw CLIError("malformed", "--urgent-in-quiet-hours is allow or deny")
                }
                urgent = urgentInQuietHours == "allow"
            }
            let set = try CLIError.from {
                try account.replica.edit { editor in
                    try editor.setRouting(
                        of: account.provider, skillByCategory: table, wideningMinutes: widening,
                        urgentInQuietHours: urgent)
                }
            }
            await after.after(account, changed: set)
        }
    }
}
