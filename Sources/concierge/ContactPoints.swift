import ArgumentParser
import ConciergeCore
import Foundation

/// `concierge contacts`: the numbers, addresses and handles a provider matches calls, e-mails and
/// messages by (online): a customer's own, or (staff) a customer's they name.
struct ContactsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contacts",
        abstract: "See and manage the contact points calls and e-mails are matched by (online).",
        subcommands: [List.self, Add.self, Remove.self])

    struct Target: ParsableArguments {
        @OptionGroup var home: HomeOptions
        @Option(help: "Staff: the customer whose contact points these are.") var customer: String?

        /// Adds or removes a point online and prints the customer's points afterwards.
        func change(kind: String, value: String, remove: Bool) async throws {
            let account = try home.home().account(home.account)
            let answer = try await account.transport().changeContactPoint(
                kind: kind, value: value, customer: customer.map(PrincipalID.init), remove: remove)
            ContactsCommand.show(answer, json: false)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the contact points and how each was verified.")
        @OptionGroup var target: Target
        @OptionGroup var output: JSONOption

        func run() async throws {
            let account = try target.home.home().account(target.home.account)
            let answer = try await account.transport().contactPoints(customer: target.customer.map(PrincipalID.init))
            ContactsCommand.show(answer, json: output.json)
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a phone number, an e-mail address or a social handle (network:handle).")
        @OptionGroup var target: Target
        @Argument(help: "phone, email or social.") var kind: String
        @Argument(help: "As written: 0228 622243, anna@example.com, twitter:@anna.") var value: String

        func run() async throws { try await target.change(kind: kind, value: value, remove: false) }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a contact point.")
        @OptionGroup var target: Target
        @Argument(help: "phone, email or social.") var kind: String
        @Argument(help: "As written.") var value: String

        func run() async throws { try await target.change(kind: kind, value: value, remove: true) }
    }

    static func show(_ answer: Value, json: Bool) {
        if json { return Output.json(answer) }
        let points = answer["contactPoints"]?.arrayValue ?? []
        if points.isEmpty { return print("no contact points") }
        Output.table(
            ["KIND", "POINT", "VERIFIED"],
            points.map { point in
                let by = point["verifiedBy"]?.stringValue
                var value = point["value"]?.stringValue ?? "?"
                if point["parsed"]?.boolValue == false { value += " (as written)" }
                return [point["kind"]?.stringValue ?? "?", value, by.map { "by \($0)" } ?? "no"]
            })
    }
}
