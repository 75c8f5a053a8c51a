import ArgumentParser
import ConciergeClient
import ConciergeCore
import ConciergeStore
import Foundation

@main
struct Concierge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concierge",
        abstract: "Your service cases at every provider, on this device: works offline, syncs when told.",
        discussion: """
            Every command works on the local replica. Changes wait in the outbox until `concierge sync`
            (or `--sync` on the command) sends them. Reading commands take `--json`.
            """,
        version: ConciergeVersion.current,
        subcommands: [
            AccountCommand.self, DevicesCommand.self, Inbox.self, CaseCommand.self, AppointmentCommand.self,
            VisitCommand.self,
            CustomerCommand.self, ContactsCommand.self, Prefs.self, StaffCommand.self, RoutingCommand.self,
            SyncCommand.self,
            Watch.self, Status.self,
        ])
}

/// `--json` for reading commands.
struct JSONOption: ParsableArguments {
    @Flag(help: "Print JSON instead of a table.") var json = false
}

/// `--sync` for commands that change something.
struct SyncOption: ParsableArguments {
    @Flag(help: "Sync right after the change (otherwise it waits in the outbox).") var sync = false

    /// Syncs the account when asked; otherwise says the change is pending.
    func after(_ account: Account, changed: ChangeSet?) async {
        guard changed != nil else {
            print("nothing changed")
            return
        }
        guard sync else {
            let pending = (try? account.replica.outbox().count) ?? 0
            print("saved offline; \(pending) change set(s) pending (run `concierge sync`)")
            return
        }
        print((await account.sync()).summary)
    }
}

func nowMillis() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

struct AccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account", abstract: "Add, list and remove accounts (one per provider and person).",
        subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enrol this device with a one-time code from the provider, and sync.")
        @OptionGroup var home: HomeOptions
        @Argument(help: "The server's URL, e.g. https://service.example.com/") var server: String
        @Option(help: "The one-time enrolment code.") var code: String
        @Option(help: "A short name for the account (default principal@host).") var name: String?
        @Option(help: "This device's name as the provider's device list shows it.") var deviceName: String =
            ProcessInfo.processInfo.hostName
        @Flag(help: "Do not sync after enrolling.") var noSync = false

        func run() async throws {
            let home = try home.home()
            guard let url = URL(string: server.hasSuffix("/") ? server : server + "/"), url.scheme != nil,
                url.host != nil
            else { throw CLIError("badURL", "\"\(server)\" is not a server URL") }
            // Checked before enrolling: the one-time code is spent once the server answers.
            let taken = Set(try home.accounts().map(\.label))
            if let name, taken.contains(name) {
                throw CLIError("exists", "an account named \"\(name)\" exists; pick another with --name")
            }
            let session = try await HTTPSyncTransport.enrol(server: url, code: code, deviceName: deviceName)
            var label = name ?? "\(session.principal)@\(url.host!)"
            if name == nil, taken.contains(label) {
                label += "-" + String(session.replica.description.prefix(4))
            }
            let file = try ReplicaFile.create(
                path: home.newReplicaPath(session.replica), session: session, label: label, nowMillis: nowMillis())
            let account = try Account(file: file)
            print(
                "added \(label): \(session.role) \(session.principal) at \(session.provider), device \(session.replica)"
            )
            if !noSync { print(await account.syncWithProgress().summary) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the accounts on this device.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var output: JSONOption

        func run() async throws {
            let accounts = try home.home().accounts()
            if output.json {
                Output.json(
                    .array(
                        accounts.map { account in
                            .object([
                                "label": .string(account.label),
                                "server": .string(account.session.server.absoluteString),
                                "principal": .string(account.session.principal.rawValue),
                                "provider": .string(account.provider.rawValue),
                                "role": .string(account.author.role.rawValue),
                                "replica": .string(account.replicaID.description),
                            ])
                        }))
                return
            }
            Output.table(
                ["ACCOUNT", "PROVIDER", "ROLE", "SERVER", "DEVICE"],
                accounts.map {
                    [
                        $0.label, $0.provider.rawValue, $0.author.role.rawValue, $0.session.server.absoluteString,
                        String($0.replicaID.description.prefix(8)),
                    ]
                })
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an account and its replica from this device.")
        @OptionGroup var home: HomeOptions
        @Argument(help: "The account's label.") var label: String
        @Flag(help: "Remove it even with change sets not yet accepted by the server.") var force = false

        func run() async throws {
            let account = try home.home().account(label)
            let unsent = try account.replica.outbox().filter { !$0.isAcknowledged }.count
            if unsent > 0 && !force {
                throw CLIError(
                    "pendingChanges",
                    "\(label) has \(unsent) change set(s) the server has not accepted; sync first or use --force")
            }
            try account.file.close()
            for suffix in ["", "-wal", "-shm"] {
                try? FileManager.default.removeItem(atPath: account.file.path + suffix)
            }
            print("removed \(label)")
        }
    }
}

extension Account {
    /// Syncs with a progress line on a terminal.
    func syncWithProgress() async -> SyncResult {
        let result = await sync { report in
            Output.progress(
                "\(label): pushed \(report.accepted), received \(report.pulledChangeSets) change sets, \(report.snapshotRecords) records"
            )
        }
        Output.endProgress()
        return result
    }
}

struct DevicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices", abstract: "List or revoke this person's devices at a provider (online).",
        subcommands: [List.self, Revoke.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the devices enrolled for the account.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var output: JSONOption

        func run() async throws {
            let account = try home.home().account(home.account)
            let devices = try await account.transport().devices()
            if output.json { return Output.json(devices) }
            let rows = (devices["devices"]?.arrayValue ?? []).map { device -> [String] in
                let replica = device["replica"]?.stringValue ?? "?"
                let revoked = device["revoked"]?.boolValue == true
                return [
                    replica + (device["current"]?.boolValue == true ? " (this device)" : ""),
                    device["name"]?.stringValue ?? "", revoked ? "revoked" : "active",
                ]
            }
            Output.table(["DEVICE", "NAME", "STATE"], rows)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a lost or old device.")
        @OptionGroup var home: HomeOptions
        @Argument(help: "The device's replica id.") var device: String

        func run() async throws {
            let account = try home.home().account(home.account)
            guard let replica = ReplicaID(device.lowercased()) else {
                throw CLIError("badDevice", "\"\(device)\" is not a device id (a UUID from `concierge devices list`)")
            }
            try await account.transport().revokeDevice(replica)
            print("revoked \(replica)")
        }
    }
}
