import ArgumentParser
import ConciergeClient
import ConciergeCore
import ConciergeStore
import Foundation

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync", abstract: "Push the outbox, then pull, for every account (or --account).")
    @OptionGroup var home: HomeOptions
    @OptionGroup var output: JSONOption

    func run() async throws {
        var results: [SyncResult] = []
        for account in try home.home().accounts(home.account) {
            results.append(output.json ? await account.sync() : await account.syncWithProgress())
        }
        if output.json {
            Output.json(.array(results.map(\.json)))
        } else {
            if results.isEmpty { print("no accounts yet: run `concierge account add <server-url> --code <code>`") }
            for result in results { print(result.summary) }
        }
        if results.contains(where: { $0.error != nil }) { throw ExitCode(2) }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pending and rejected change sets and the last sync, per account.")
    @OptionGroup var home: HomeOptions
    @OptionGroup var output: JSONOption

    func run() async throws {
        var values: [Value] = []
        var rows: [[String]] = []
        var rejectedLines: [String] = []
        for account in try home.home().accounts(home.account) {
            let outbox = try account.replica.outbox()
            let pending = outbox.filter { !$0.isAcknowledged }.count
            let awaiting = outbox.count - pending
            let rejected = try account.replica.rejected()
            let metadata = try account.replica.metadata()
            let stored = account.stored
            values.append(
                .object([
                    "account": .string(account.label), "pending": .int(Int64(pending)),
                    "acknowledged": .int(Int64(awaiting)),
                    "rejected": .array(
                        rejected.map {
                            .object([
                                "seq": .int(Int64($0.changeSet.id.seq)), "code": .string($0.error.code.rawValue),
                                "message": .string($0.error.message),
                            ])
                        }),
                    "cursor": metadata.cursor.map { .string($0.description) } ?? .null,
                    "lastSync": stored.lastSyncMillis.map(Value.int) ?? .null,
                    "lastSyncOK": stored.lastSyncFinished.map(Value.bool) ?? .null,
                    "lastSyncSummary": stored.lastSyncSummary.map(Value.string) ?? .null,
                ]))
            let last =
                stored.lastSyncMillis.map {
                    Output.time(millis: UInt64($0)) + (stored.lastSyncFinished == true ? "" : " (failed)")
                } ?? "never"
            rows.append([account.label, String(pending), String(awaiting), String(rejected.count), last])
            for item in rejected {
                rejectedLines.append(
                    "\(account.label) set \(item.changeSet.id.seq): \(item.error.code): \(item.error.message)")
            }
        }
        if output.json { return Output.json(.array(values)) }
        Output.table(["ACCOUNT", "PENDING", "AWAITING PULL", "REJECTED", "LAST SYNC"], rows)
        for line in rejectedLines { print(Output.styled("rejected ", .red) + line) }
    }
}

struct Watch: AsyncParsableCommand {
    /// Writes out what was printed: into a pipe or a file too, what arrived is there at once, and
    /// a kill loses nothing already printed (standard output is buffered there, not line by line).
    static func flush() { fflush(nil) }

    static let configuration = CommandConfiguration(
        abstract: "Follow the live connection: sync when the server says something changed, print new entries.")
    @OptionGroup var home: HomeOptions
    @Option(help: "Stop after this many seconds (default: run until interrupted).") var seconds: Int?

    func run() async throws {
        let account = try home.home().account(home.account)
        let deadline = seconds.map { Date().addingTimeInterval(Double($0)) }
        let transport = account.transport()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var known = try Self.entryIDs(account)
                print((await account.sync()).summary)
                known = try Self.printNew(account, known: known)
                Self.flush()
                var backoff: UInt64 = 500
                while !Task.isCancelled {
                    do {
                        for try await notice in LiveConnection.notices(transport) {
                            backoff = 500
                            guard case .changed = notice else { continue }
                            let result = await account.sync()
                            if result.error != nil { print(result.summary) }
                            known = try Self.printNew(account, known: known)
                            Self.flush()
                        }
                    } catch {
                        print("live connection lost (\(error)); reconnecting")
                        Self.flush()
                    }
                    try await Task.sleep(for: .milliseconds(backoff))
                    backoff = min(backoff * 2, 30_000)
                    // Catch up on anything missed while disconnected.
                    if (await account.sync()).error == nil { known = try Self.printNew(account, known: known) }
                    Self.flush()
                }
            }
            if let deadline {
                group.addTask { try await Task.sleep(for: .seconds(max(0, deadline.timeIntervalSinceNow))) }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    static func entryIDs(_ account: Account) throws -> Set<String> {
        var ids = Set<String>()
        for record in try account.replica.visibleRecords(of: .serviceCase) {
            for entry in ServiceCase(record)?.timeline ?? [] { ids.insert("\(record.id)/\(entry.id)") }
        }
        return ids
    }

    static func printNew(_ account: Account, known: Set<String>) throws -> Set<String> {
        var known = known
        for record in try account.replica.visibleRecords(of: .serviceCase) {
            guard let serviceCase = ServiceCase(record) else { continue }
            for entry in serviceCase.timeline where known.insert("\(record.id)/\(entry.id)").inserted {
                let verified = serviceCase.isVerified(entry) ? " (verified)" : ""
                print(
                    "\(Output.time(millis: entry.stamp.hlc.millis))  \(String(record.id.rawValue.prefix(8)))  \(entry.author.principal)\(verified)  \(describe(entry))"
                )
            }
        }
        return known
    }
}
