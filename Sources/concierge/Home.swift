import ArgumentParser
import ConciergeClient
import ConciergeCore
import ConciergeStore
import Foundation

/// Options every command takes: where the replicas live, and which account to use.
struct HomeOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Data folder (CONCIERGE_HOME; default $XDG_DATA_HOME/concierge or ~/.local/share/concierge).",
            valueName: "folder"))
    var data: String?

    @Option(help: ArgumentHelp("The account to use: its label or replica id (prefix).", valueName: "account"))
    var account: String?

    func home() throws -> Home {
        let environment = ProcessInfo.processInfo.environment
        let folder: String
        if let data {
            folder = data
        } else if let home = environment["CONCIERGE_HOME"], !home.isEmpty {
            folder = home
        } else if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty {
            folder = xdg + "/concierge"
        } else {
            folder = NSHomeDirectory() + "/.local/share/concierge"
        }
        return try Home(folder: URL(fileURLWithPath: folder))
    }
}

/// A failure the user can act on: printed as one line, exit status 1 (`--json`: an error object).
struct CLIError: Error, CustomStringConvertible {
    var code: String
    var description: String
    init(_ code: String, _ description: String) {
        self.code = code
        self.description = description
    }

    /// Runs `body`, turning what a case intent refuses into the CLI's error with the same code.
    static func from<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as CaseIntentError {
            throw CLIError(error.code.rawValue, error.message)
        }
    }
}

/// The data folder: one replica file per account under `accounts/`.
struct Home {
    let folder: URL
    var accountsFolder: URL { folder.appendingPathComponent("accounts") }

    init(folder: URL) throws {
        self.folder = folder
        try FileManager.default.createDirectory(
            at: folder.appendingPathComponent("accounts"), withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
    }

    /// Every account, in the order they were added. A file that cannot be opened is reported, not
    /// skipped silently and never overwritten.
    func accounts() throws -> [Account] {
        let names = try FileManager.default.contentsOfDirectory(atPath: accountsFolder.path)
            .filter { $0.hasSuffix(".sqlite") }.sorted()
        return try names.map { name in
            try Account(file: ReplicaFile.open(path: accountsFolder.appendingPathComponent(name).path))
        }
        .sorted { $0.stored.createdMillis < $1.stored.createdMillis }
    }

    /// The account `--account` names, or the only one.
    func account(_ selector: String?) throws -> Account {
        let all = try accounts()
        guard let selector else {
            guard all.count == 1 else {
                throw all.isEmpty
                    ? CLIError("noAccount", "no account yet: run `concierge account add <server-url> --code <code>`")
                    : CLIError(
                        "ambiguousAccount",
                        "several accounts (\(all.map(\.label).joined(separator: ", "))): pick one with --account")
            }
            return all[0]
        }
        let matches = all.filter { $0.label == selector || $0.replicaID.description.hasPrefix(selector.lowercased()) }
        guard matches.count == 1 else {
            throw CLIError(
                "unknownAccount",
                matches.isEmpty ? "no account \"\(selector)\"" : "\"\(selector)\" names several accounts")
        }
        return matches[0]
    }

    /// The accounts a command acts on: the one `--account` names, or all.
    func accounts(_ selector: String?) throws -> [Account] {
        if let selector { return [try account(selector)] }
        return try accounts()
    }

    func newReplicaPath(_ replica: ReplicaID) -> String {
        accountsFolder.appendingPathComponent("\(replica).sqlite").path
    }
}
