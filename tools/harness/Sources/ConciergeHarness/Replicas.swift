import ConciergeClient
import ConciergeCore
import ConciergeServer
import ConciergeStore
import ConciergeTestSupport
import Foundation

/// Random edits a principal would make, on the state its replica shows.
enum RandomEdit {
    static func pick<T>(_ items: [T], _ random: inout SplitMix64) -> T? {
        items.isEmpty ? nil : items[Int(random.next() % UInt64(items.count))]
    }

    static let tags = ["vip", "outage", "router", "billing", "callback"]
    static let priorities = ["low", "normal", "high", "urgent"]
    static let skills = ["router", "billing", "fibre"]

    /// One edit by `author` through `editor` on the visible cases `cases`.
    static func edit(
        _ editor: inout Editor, author: Author, provider: ProviderID, cases: [ServiceCase], customers: [PrincipalID],
        assignees: [PrincipalID], random: inout SplitMix64
    ) throws {
        let roll = random.next() % 100
        let target = pick(cases, &random)
        guard let target, !(author.role == .customer && roll < 25) else {
            guard author.role == .customer || author.role.isStaff && author.role != .technician else { return }
            let key = RecordKey(
                type: .serviceCase, id: RecordID(ReplicaID(high: random.next(), low: random.next()).description))
            let customer = author.role == .customer ? author.principal : pick(customers, &random)!
            try editor.write(.string(provider.rawValue), to: CaseFields.provider, of: key)
            try editor.write(.string(customer.rawValue), to: CaseFields.customer, of: key)
            try editor.write(.string("case \(random.next() % 1000)"), to: CaseFields.subject, of: key)
            try editor.reply(on: key, body: "hello \(random.next() % 1000)")
            return
        }
        let key = target.record.key
        switch author.role {
        case .customer:
            switch roll % 4 {
            case 0: try editor.write(.int(Int64(1 + random.next() % 5)), to: CaseFields.rating, of: key)
            case 1: try editor.write(.string("subject \(random.next() % 100)"), to: CaseFields.subject, of: key)
            default:
                try editor.reply(on: key, body: "more \(roll)")
            }
        default:
            switch roll % 9 {
            case 0: try editor.write(.string(pick(priorities, &random)!), to: CaseFields.priority, of: key)
            case 1: try editor.add(pick(tags, &random)!, to: CaseFields.tags, of: key)
            case 2: try editor.remove(pick(tags, &random)!, from: CaseFields.tags, of: key)
            case 3:
                if let assignee = pick(assignees, &random) {
                    try editor.write(.string(assignee.rawValue), to: CaseFields.assignee, of: key)
                }
            case 4:
                // Route to a skill (the case leaves agents without it) or back to everyone.
                let skill = pick(skills + ["-"], &random)!
                try editor.write(skill == "-" ? .null : .string(skill), to: CaseFields.requiredSkill, of: key)
            case 5:
                let from = target.status
                let targets = CaseStatus.allCases.filter {
                    $0 != .closed && $0 != from
                        && CaseStatus.isAllowed(from: from, to: $0, by: author, caseCustomer: target.customer)
                }
                if let to = pick(targets, &random) {
                    try editor.append(StatusChangeEntry(from: from, to: to), to: key)
                }
            case 6:
                try editor.note(on: key, body: "note \(roll)")
            default:
                try editor.reply(on: key, body: "reply \(roll)")
            }
        }
    }
}

/// An in-process replica: the core's sync engine on a real replica file, over real HTTP whose
/// connection the harness cuts at random.
final class EngineReplica: Sendable {
    let name: String
    let principal: Principal
    let replica: Replica<ReplicaFile>
    let transport: FlakyTransport
    let engine: SyncEngine<ReplicaFile>

    init(name: String, principal: Principal, replica: Replica<ReplicaFile>, transport: FlakyTransport) {
        self.name = name
        self.principal = principal
        self.replica = replica
        self.transport = transport
        self.engine = SyncEngine(replica: replica, transport: transport, sleep: { _ in })
    }

    static func enrol(
        principal: Principal, server: URL, code: String, path: String, seed: UInt64, faultPercent: UInt64
    ) async throws -> EngineReplica {
        let session = try await HTTPSyncTransport.enrol(server: server, code: code, deviceName: "harness")
        let file = try ReplicaFile.create(path: path, session: session, label: "\(principal.id)", nowMillis: 0)
        let transport = FlakyTransport(
            inner: HTTPSyncTransport(session: session) { try? file.saveSession($0) }, seed: seed,
            faultPercent: faultPercent)
        return EngineReplica(
            name: "engine \(session.replica.description.prefix(8))", principal: principal,
            replica: Replica(store: file), transport: transport)
    }

    func randomEdit(_ random: inout SplitMix64, customers: [PrincipalID], assignees: [PrincipalID]) throws {
        // One case, picked by key: decoding every case on every edit makes long runs quadratic.
        let keys = try replica.visibleKeys(of: .serviceCase)
        let picked = RandomEdit.pick(keys, &random)
        let cases = try picked.flatMap { try replica.visibleRecord($0) }.flatMap(ServiceCase.init).map { [$0] } ?? []
        var generator = random
        try replica.edit { editor in
            try RandomEdit.edit(
                &editor, author: principal.author, provider: principal.provider, cases: cases, customers: customers,
                assignees: assignees, random: &generator)
        }
        random = generator
    }

    /// Syncs through the flaky connection; a run that gives up is simply tried again later.
    func trySync() async { _ = try? await engine.sync() }

    func canonicalState() throws -> [String] { try ReplicaStoreContract.canonicalState(replica.store) }
}

/// A customer on the `concierge` CLI: every edit and sync is a process of its own on its replica
/// file.
struct CLIReplica {
    let name: String
    let principal: Principal
    let binary: URL
    let home: URL

    static func enrol(principal: Principal, server: URL, code: String, binary: URL, home: URL) async throws
        -> CLIReplica
    {
        let cli = CLIReplica(name: "cli \(principal.id)", principal: principal, binary: binary, home: home)
        _ = try await cli.run([
            "account", "add", server.absoluteString, "--code", code, "--name", "harness", "--no-sync",
        ])
        return cli
    }

    @discardableResult
    func run(_ arguments: [String]) async throws -> String {
        let output = try await ProcessRunner.run(binary, arguments, environment: ["CONCIERGE_HOME": home.path])
        guard output.status == 0 || (arguments.first == "sync" && output.status == 2) else {
            throw SyncError(.internalError, "concierge \(arguments.joined(separator: " ")) failed: \(output.text)")
        }
        return output.text
    }

    func openReplica() throws -> Replica<ReplicaFile> {
        let folder = home.appendingPathComponent("accounts")
        let name = try FileManager.default.contentsOfDirectory(atPath: folder.path).first { $0.hasSuffix(".sqlite") }!
        return Replica(store: try ReplicaFile.open(path: folder.appendingPathComponent(name).path))
    }

    func randomEdit(_ random: inout SplitMix64) async throws {
        let replica = try openReplica()
        let cases = try replica.visibleRecords(of: .serviceCase).compactMap(ServiceCase.init)
        try replica.store.close()
        let roll = random.next() % 10
        guard let target = RandomEdit.pick(cases, &random), roll >= 2 else {
            try await run(["case", "new", "--subject", "cli case \(random.next() % 1000)", "--message", "from the CLI"])
            return
        }
        let id = String(target.id.rawValue.prefix(13))
        switch roll {
        case 2: try await run(["case", "rate", id, String(1 + random.next() % 5)])
        case 3: try await run(["case", "set", id, "subject", "cli subject \(roll)"])
        default: try await run(["case", "reply", id, "cli message \(random.next() % 1000)"])
        }
    }

    /// Runs `concierge sync --json`; returns whether anything moved.
    func sync() async throws -> Bool {
        let text = try await run(["sync", "--json"])
        guard let value = try? CanonicalJSON.decode(text), let account = value.arrayValue?.first else { return true }
        let moved = ["pushed", "pulled", "snapshotRecords"].contains { (account[$0]?.intValue ?? 0) > 0 }
        return moved || account["ok"]?.boolValue != true
    }

    /// The sets the server acknowledged, as the replica file recorded them.
    func acknowledged() throws -> [ChangeSetID: ChangeSet] {
        let replica = try openReplica()
        defer { try? replica.store.close() }
        return Dictionary(
            try replica.store.read { try $0.outbox() }.filter(\.isAcknowledged).map { ($0.id, $0.changeSet) },
            uniquingKeysWith: { first, _ in first })
    }
}
