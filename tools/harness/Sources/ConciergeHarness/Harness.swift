import ConciergeClient
import ConciergeCore
import ConciergeServer
import ConciergeStore
import ConciergeTestSupport
import Foundation

/// The integration harness: a real server, many replicas (in-process engines on real replica
/// files, and `concierge` CLI processes), connections cut and healed at random, random edits by
/// customers, agents, technicians and a supervisor, then sync until quiet.
///
/// The oracle is independent of the replicas and of the server's storage: it merges every change
/// set the server acknowledged (as its answers said) into empty records, projects the result for
/// each replica's principal with the server's published rules, and requires each replica's
/// confirmed state to equal it byte for byte.
public struct Harness {
    public struct Configuration: Sendable {
        public var seed: UInt64
        public var replicas = 5
        public var edits = 200
        /// How many of the replicas are `concierge` CLI processes (customers).
        public var cliReplicas = 1
        /// The `concierge` binary for CLI replicas.
        public var cliBinary: URL?
        /// Per request, the chance in percent that the connection is cut (half before sending,
        /// half losing the answer).
        public var faultPercent: UInt64 = 20
        public var folder: URL

        public init(seed: UInt64, folder: URL) {
            self.seed = seed
            self.folder = folder
        }
    }

    /// What a run did.
    public struct Result: Sendable, CustomStringConvertible {
        public var seed: UInt64
        public var replicas = 0
        public var edits = 0
        public var acknowledged = 0
        public var finalRejections = 0
        public var cuts = 0
        /// How often an engine replica moved to another instance.
        public var switches = 0
        public var lostAnswers = 0
        public var syncRounds = 0
        /// Mismatches between a replica and the oracle; empty when the run converged.
        public var mismatches: [String] = []

        public var description: String {
            "seed \(seed): \(replicas) replicas, \(edits) edits, \(acknowledged) sets acknowledged, "
                + "\(finalRejections) refused for good, \(cuts) cuts, \(lostAnswers) lost answers, \(switches) instance switches, "
                + "\(syncRounds) rounds to quiet: \(mismatches.isEmpty ? "converged" : "\(mismatches.count) MISMATCHES")"
        }
    }

    /// Runs the harness against a server at `server`; `issueCode` enrols principals there.
    public static func run(
        _ configuration: Configuration, server: URL, principals: [Principal],
        issueCode: @Sendable (PrincipalID) async throws -> String
    ) async throws -> Result {
        try await run(configuration, servers: [server], principals: principals, issueCode: issueCode)
    }

    /// Runs the harness against several instances of one service (one database): replicas enrol
    /// round robin, and engine replicas switch instance at random between syncs, so pages,
    /// snapshots and live state cross instances mid-stream.
    public static func run(
        _ configuration: Configuration, servers: [URL], principals: [Principal],
        issueCode: @Sendable (PrincipalID) async throws -> String
    ) async throws -> Result {
        var random = SplitMix64(seed: configuration.seed)
        var result = Result(seed: configuration.seed)
        try FileManager.default.createDirectory(at: configuration.folder, withIntermediateDirectories: true)

        // The cast: customers first (the CLI replicas are customers), then staff, round robin.
        let customers = principals.filter { $0.role == .customer }
        let staff = principals.filter { $0.role != .customer && $0.role != .integration }
        var engines: [EngineReplica] = []
        var clis: [CLIReplica] = []
        for index in 0..<configuration.replicas {
            let principal =
                index % 2 == 0 ? customers[(index / 2) % customers.count] : staff[(index / 2) % staff.count]
            let code = try await issueCode(principal.id)
            let server = servers[index % servers.count]
            if principal.role == .customer, clis.count < configuration.cliReplicas, let binary = configuration.cliBinary
            {
                clis.append(
                    try await CLIReplica.enrol(
                        principal: principal, server: server, code: code, binary: binary,
                        home: configuration.folder.appendingPathComponent("cli-\(index)")))
            } else {
                engines.append(
                    try await EngineReplica.enrol(
                        principal: principal, server: server, code: code,
                        path: configuration.folder.appendingPathComponent("replica-\(index).sqlite").path,
                        seed: random.next(), faultPercent: configuration.faultPercent))
            }
        }
        result.replicas = engines.count + clis.count
        let allCustomers = customers.map(\.id)
        let assignees = principals.filter { $0.role == .technician || $0.role == .agent }.map(\.id)

        // Random edits, with syncs (through cut connections) in between.
        for _ in 0..<configuration.edits {
            let pick = Int(random.next() % UInt64(result.replicas))
            if pick < engines.count {
                let engine = engines[pick]
                try engine.randomEdit(&random, customers: allCustomers, assignees: assignees)
                if servers.count > 1, random.next() % 3 == 0 {
                    engine.transport.inner.switchServer(to: servers[Int(random.next() % UInt64(servers.count))])
                    result.switches += 1
                }
                if random.next() % 4 == 0 { await engine.trySync() }
            } else {
                let cli = clis[pick - engines.count]
                try await cli.randomEdit(&random)
                if random.next() % 4 == 0 { _ = try await cli.sync() }
            }
            result.edits += 1
        }

        // Heal every connection, then sync until a whole round moves nothing.
        for engine in engines { engine.transport.heal() }
        var quiet = false
        while !quiet {
            result.syncRounds += 1
            guard result.syncRounds <= 20 else {
                result.mismatches.append("no quiet after 20 rounds")
                break
            }
            quiet = true
            for engine in engines {
                let report = try await engine.engine.sync()
                if report.accepted > 0 || report.pulledChangeSets > 0 || report.entered > 0 || report.left > 0
                    || report.snapshotRecords > 0
                {
                    quiet = false
                }
            }
            for cli in clis where try await cli.sync() { quiet = false }
        }

        // The oracle.
        var acknowledged: [ChangeSetID: ChangeSet] = [:]
        for engine in engines { acknowledged.merge(engine.transport.acknowledged) { first, _ in first } }
        for cli in clis { acknowledged.merge(try cli.acknowledged()) { first, _ in first } }
        result.acknowledged = acknowledged.count
        var expected: [RecordKey: Record] = [:]
        for set in acknowledged.values {
            for key in set.keys {
                var record = expected[key] ?? Record(key: key)
                try set.apply(to: &record)
                expected[key] = record
            }
        }
        let owners = Dictionary(principals.map { ($0.id.rawValue, $0) }, uniquingKeysWith: { first, _ in first })
        func projection(for principal: Principal) -> [String] {
            expected.values.filter { record in
                let owner = record.type == .profile || record.type == .preferences ? owners[record.id.rawValue] : nil
                return !Audience.of(record, owner: owner).isDisjoint(with: principal.tags)
            }
            .map { Projection.record($0, for: principal) }.sorted { $0.key < $1.key }
            .map { CanonicalJSON.string($0.value) }
        }
        var replicaStates: [(name: String, principal: Principal, state: [String], outbox: Int, rejected: Int)] = []
        for engine in engines {
            replicaStates.append(
                (
                    engine.name, engine.principal, try engine.canonicalState(), try engine.replica.outbox().count,
                    try engine.replica.rejected().count
                ))
        }
        for cli in clis {
            let replica = try cli.openReplica()
            replicaStates.append(
                (
                    cli.name, cli.principal, try ReplicaStoreContract.canonicalState(replica.store),
                    try replica.outbox().count,
                    try replica.rejected().count
                ))
            try replica.store.close()
        }
        for (name, principal, state, outbox, rejected) in replicaStates {
            result.finalRejections += rejected
            if outbox > 0 { result.mismatches.append("\(name): \(outbox) set(s) still in the outbox") }
            let oracle = projection(for: principal)
            if state != oracle {
                let missing = Set(oracle).subtracting(state).count
                let extra = Set(state).subtracting(oracle).count
                result.mismatches.append(
                    "\(name) (\(principal.role) \(principal.id)): \(missing) record(s) differ from or missing against the oracle, \(extra) unexpected"
                )
            }
        }
        result.cuts = engines.map(\.transport.cuts).reduce(0, +)
        result.lostAnswers = engines.map(\.transport.lostAnswers).reduce(0, +)
        return result
    }
}
