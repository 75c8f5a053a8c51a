import ArgumentParser
import ConciergeCore
import Foundation

extension CaseCommand {
    struct Merge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge a case into another about the same problem (staff); nothing moves, undo with unmerge.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument(help: "The case to merge (or its first characters).") var id: String
        @Option(help: "The case it merges into.") var into: String
        @Option(help: "Why.") var reason: String?

        func run() async throws {
            let home = try home.home()
            let found = try home.findCase(id, account: self.home.account)
            let target = try home.findCase(into, account: found.account.label)
            try await self.home.editCase(found, after) { editor in
                try editor.merge(found.serviceCase, into: target.serviceCase, reason: reason)
            }
        }
    }

    struct Unmerge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Undo a case's merge (staff).")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument(help: "The merged case (or its first characters).") var id: String

        func run() async throws {
            try await home.editCase(id, after) { editor, found in try editor.unmerge(found.key) }
        }
    }
}

extension CaseCommand {
    struct Link: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Link two related cases without merging them (staff): one outage, many customers.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument(help: "A case (or its first characters).") var id: String
        @Argument(help: "The related case.") var other: String
        @Flag(help: "Remove the link instead.") var remove = false

        func run() async throws {
            let home = try home.home()
            let found = try home.findCase(id, account: self.home.account)
            let related = try home.findCase(other, account: found.account.label)
            try await self.home.editCase(found, after) { editor in
                if remove {
                    try editor.unlink(found.serviceCase, related.serviceCase)
                } else {
                    try editor.link(found.serviceCase, related.serviceCase)
                }
            }
        }
    }
}

struct CustomerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "customer", abstract: "Merge two customer records of one person, or undo it (staff).",
        subcommands: [Merge.self, Unmerge.self])

    struct Merge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge a customer into another record of the same person; their cases stay, undo with unmerge.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument(help: "The customer to merge (principal id).") var customer: String
        @Option(help: "The customer it merges into.") var into: String
        @Option(help: "Why.") var reason: String?

        func run() async throws {
            let account = try home.home().account(home.account)
            let set = try CLIError.from {
                try account.replica.edit { editor in
                    try editor.mergeCustomer(PrincipalID(customer), into: PrincipalID(into), reason: reason)
                }
            }
            await after.after(account, changed: set)
        }
    }

    struct Unmerge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Undo a customer's merge (staff).")
        @OptionGroup var home: HomeOptions
        @OptionGroup var after: SyncOption
        @Argument(help: "The merged customer (principal id).") var customer: String

        func run() async throws {
            let account = try home.home().account(home.account)
            let set = try CLIError.from {
                try account.replica.edit { editor in
                    try editor.unmerge(RecordKey(type: .profile, id: RecordID(customer)))
                }
            }
            await after.after(account, changed: set)
        }
    }
}
