// Server load benchmark: `make bench-server`. Starts the release `concierge-server` as a process of
// its own, drives it with `load-gen` processes (one process holds at most 20,000 open files here),
// and reports server CPU seconds beside every rate. The last line sums up.
import AsyncHTTPClient
import BenchSupport
import ConciergeCore
import ConciergeServer
import Foundation
import Logging

var limit = rlimit(rlim_cur: 20_000, rlim_max: 20_000)
setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)

let environment = ProcessInfo.processInfo.environment
let serverBinary = URL(
    fileURLWithPath: environment["CONCIERGE_SERVER_BINARY"] ?? "../../.build/release/concierge-server")
let loadGen = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
    "load-gen")
let quick = environment["BENCH_QUICK"] != nil
// BENCH_DATABASE_URL selects the PostgreSQL engine (an empty database); BENCH_INSTANCES server
// processes then share it, and the push load is spread over them.
let databaseURL = environment["BENCH_DATABASE_URL"]
let instances = databaseURL == nil ? 1 : max(1, Int(environment["BENCH_INSTANCES"] ?? "") ?? 1)
let caseCount = 10_000
let pushProcesses = Int(environment["BENCH_PUSH_PROCESSES"] ?? "") ?? 2
// Devices pushing at once per load generator, each on a connection of its own. The server writes
// the batches that wait together in one transaction (up to 2,000 sets), so its rate grows with
// them until the writer is busy all the time: 2 x 32 devices keep it busy (docs/benchmarks.md).
let pushInFlight = Int(environment["BENCH_PUSH_IN_FLIGHT"] ?? "") ?? 32
// BENCH_PUSH_SECONDS sets the push phase's length; BENCH_PUSH_ONLY stops after it (to compare two
// server builds on the push alone, in runs that alternate).
let pushSeconds = Int(environment["BENCH_PUSH_SECONDS"] ?? "") ?? (quick ? 3 : 10)
let pushOnly = environment["BENCH_PUSH_ONLY"] != nil
let liveClients = quick ? 200 : 1_000
let idleClients = quick ? 1_000 : 10_000
let data = FileManager.default.temporaryDirectory.appendingPathComponent("concierge-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
let provider = ProviderID("bench")
let logger: Logger = {
    var logger = Logger(label: "bench")
    logger.logLevel = .error
    return logger
}()

@MainActor func sessionValue(_ enrolment: Enrolment, tokens: TokenService) async throws -> Value {
    [
        "replica": .string(enrolment.replica.description), "principal": .string(enrolment.principal.id.rawValue),
        "provider": .string(provider.rawValue), "role": .string(enrolment.principal.role.rawValue),
        "refresh": .string(enrolment.refreshToken),
        "access": .string(try await tokens.accessToken(for: enrolment.principal, device: enrolment.replica)),
    ]
}

// MARK: Seed, in process, before the server starts

struct Seeded {
    var cases: [String]
    var pushers: [Value]
    var puller: Value
    var agents: [Value]
    var idle: [Value]
    var head: UInt64
    var epoch: String
}

@MainActor func seed() async throws -> Seeded {
    let store: any ServerStore
    let tokens: TokenService
    if let databaseURL {
        let postgres = try await PostgresServerStore.connect(url: databaseURL, logger: logger)
        let key = try await postgres.signingKey(orMake: TokenService.makeKey)
        store = postgres
        tokens = try await TokenService(pem: key.pem, keyID: key.kid, lifetime: 3_600)
    } else {
        store = try SQLiteServerStore(path: data.appendingPathComponent("concierge.sqlite").path, logger: logger)
        tokens = try await TokenService.load(folder: data, lifetime: 3_600)
    }
    defer { Task { await store.close() } }
    try await store.createProvider(id: provider, name: "Bench")
    let supervisor = Principal(id: "sup", provider: provider, role: .supervisor, displayName: "Sup")
    try await store.createPrincipal(supervisor)
    try await store.createPrincipal(Principal(id: "idle", provider: provider, role: .customer, displayName: "Idle"))
    var agentEnrolments: [Enrolment] = []
    for index in 0..<liveClients {
        let agent = Principal(
            id: PrincipalID("agent-\(index)"), provider: provider, role: .agent, displayName: "A",
            skills: ["s\(index % (liveClients / 10))"])
        try await store.createPrincipal(agent)
        agentEnrolments += try await store.enrolDevices(for: agent.id, count: 1, name: "bench")
    }
    let supDevices = try await store.enrolDevices(for: "sup", count: pushProcesses * pushInFlight + 2, name: "bench")
    // The cases: each visible to the 10 agents of its skill.
    let seeder = Caller(principal: supervisor, replica: supDevices[supDevices.count - 1].replica)
    var clock = HybridLogicalClock()
    var cases: [String] = []
    var sets: [ChangeSet] = []
    for index in 0..<caseCount {
        let id = UUID().uuidString.lowercased()
        cases.append(id)
        sets.append(
            SetMaker.seedCase(
                id, index: index, provider: provider, skills: liveClients / 10, replica: seeder.replica,
                author: supervisor.author, clock: &clock))
        if sets.count == 500 {
            _ = try await store.push(
                sets, from: seeder, serverMillis: UInt64(Date().timeIntervalSince1970 * 1000) + 1_000)
            sets = []
        }
    }
    if !sets.isEmpty {
        _ = try await store.push(sets, from: seeder, serverMillis: UInt64(Date().timeIntervalSince1970 * 1000) + 1_000)
    }
    let idle = try await store.enrolDevices(for: "idle", count: idleClients, name: "bench")
    var idleValues: [Value] = []
    for enrolment in idle { idleValues.append(try await sessionValue(enrolment, tokens: tokens)) }
    var agentValues: [Value] = []
    for enrolment in agentEnrolments { agentValues.append(try await sessionValue(enrolment, tokens: tokens)) }
    var pusherValues: [Value] = []
    for enrolment in supDevices.prefix(pushProcesses * pushInFlight) {
        pusherValues.append(try await sessionValue(enrolment, tokens: tokens))
    }
    let (_, head) = try await store.projectionWithHead(for: supervisor)
    return Seeded(
        cases: cases, pushers: pusherValues,
        puller: try await sessionValue(supDevices[supDevices.count - 2], tokens: tokens),
        agents: agentValues,
        idle: idleValues, head: head, epoch: store.epoch)
}

let seedStart = Date()
let seeded = try await seed()
print(
    "seeded \(caseCount) cases, \(liveClients) agents, \(idleClients) idle devices in \(String(format: "%.1f", Date().timeIntervalSince(seedStart))) s"
)

// MARK: The server process

var servers: [Process] = []
var serverURLs: [String] = []
for instance in 0..<instances {
    let portFile = data.appendingPathComponent("port-\(instance)")
    let server = Process()
    server.executableURL = serverBinary
    server.arguments =
        ["serve", "--data", data.path, "--port", "0", "--port-file", portFile.path]
        + (databaseURL.map { ["--database-url", $0] } ?? [])
    server.environment = [
        "CONCIERGE_LOG_LEVEL": "error", "CONCIERGE_MAX_BATCH_SETS": "500",
        "CONCIERGE_COMPACT_INTERVAL_SECONDS": "86400",
    ]
    try server.run()
    var port = 0
    for _ in 0..<1_000 where port == 0 {
        port = (try? String(contentsOf: portFile, encoding: .utf8)).flatMap(Int.init) ?? 0
        if port == 0 { try await Task.sleep(for: .milliseconds(10)) }  // polling for readiness
    }
    servers.append(server)
    serverURLs.append("http://127.0.0.1:\(port)/")
}
let server = servers[0]
let serverURL = serverURLs[0]

/// CPU seconds of every server instance (PostgreSQL's own processes not included).
@MainActor func cpuSeconds() -> Double {
    servers.reduce(0) { total, server in
        guard let stat = try? String(contentsOfFile: "/proc/\(server.processIdentifier)/stat", encoding: .utf8) else {
            return total
        }
        let fields = stat.split(separator: ")").last!.split(separator: " ")
        return total + (Double(fields[11])! + Double(fields[12])!) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

@MainActor func residentMB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/\(server.processIdentifier)/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return 0 }
    return Double(line.split(separator: " ")[1])! / 1024
}

@MainActor func liveClientsGauge() async -> Int {
    guard
        let response = try? await HTTPClient.shared.execute(
            HTTPClientRequest(url: serverURL + "metrics"), timeout: .seconds(5)),
        let body = try? await response.body.collect(upTo: 1 << 20)
    else { return -1 }
    let text = String(buffer: body)
    let line = text.split(separator: "\n").first { $0.hasPrefix("concierge_live_clients ") }
    return line.flatMap { Double($0.split(separator: " ").last!) }.map(Int.init) ?? 0
}

/// Starts a load generator with `job`; its result arrives when it exits.
func start(_ job: Value) throws -> (Process, Pipe) {
    let process = Process()
    process.executableURL = loadGen
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    try process.run()
    input.fileHandleForWriting.write(Data(CanonicalJSON.encode(job)))
    try input.fileHandleForWriting.close()
    return (process, output)
}

func finish(_ started: (Process, Pipe)) throws -> Value {
    let data = started.1.fileHandleForReading.readDataToEndOfFile()
    started.0.waitUntilExit()
    return try CanonicalJSON.decode(data)
}

@MainActor func job(_ name: String, _ members: [String: Value], server: String = serverURL) -> Value {
    .object(members.merging(["job": .string(name), "server": .string(server)]) { $1 })
}

// MARK: Push throughput

let casesValue = Value.array(seeded.cases.map(Value.string))
var cpu = cpuSeconds()
var clock = Date()
var pushers: [(Process, Pipe)] = []
for index in 0..<pushProcesses {
    let sessions: [Value] = Array(seeded.pushers[(index * pushInFlight)..<((index + 1) * pushInFlight)])
    let members: [String: Value] = [
        "sessions": .array(sessions), "cases": casesValue, "seconds": .int(Int64(pushSeconds)),
        "inFlight": .int(Int64(pushInFlight)),
        "seed": .int(Int64(index)),
    ]
    pushers.append(try start(job("push", members, server: serverURLs[index % serverURLs.count])))
}
let pushResults = try pushers.map(finish)
var elapsed = Date().timeIntervalSince(clock)
let writes = pushResults.reduce(0) { $0 + Int($1["writes"]!.intValue!) }
let pushRate = Double(writes) / elapsed
let pushCPU = cpuSeconds() - cpu
let roundTrips = pushResults.flatMap {
    $0["milliseconds"]!.arrayValue!.compactMap { $0.stringValue.flatMap(Double.init) }
}
.sorted()
func roundTrip(_ p: Double) -> String {
    roundTrips.isEmpty
        ? "-" : String(format: "%.0f", roundTrips[min(roundTrips.count - 1, Int(Double(roundTrips.count) * p))])
}
print(
    "push: \(writes) register writes accepted in \(String(format: "%.1f", elapsed)) s = \(Int(pushRate))/s (batches of 100 sets x 5 writes, 10,000 cases, \(pushProcesses) processes x \(pushInFlight) in flight); server CPU \(String(format: "%.1f", pushCPU)) s, \(Int(pushCPU * 1e6 / Double(max(writes, 1)))) µs per write; load generators' CPU \(String(format: "%.1f", pushResults.reduce(0) { $0 + Double($1["cpu"]!.stringValue!)! })) s; rejected \(pushResults.reduce(0) { $0 + Int($1["rejected"]!.intValue!) }); a batch's round trip p50 \(roundTrip(0.5)) ms, p99 \(roundTrip(0.99)) ms"
)

if pushOnly {
    for server in servers {
        server.terminate()
        server.waitUntilExit()
    }
    try? FileManager.default.removeItem(at: data)
    exit(0)
}

// MARK: Pull throughput

cpu = cpuSeconds()
let pull = try finish(
    try start(
        job(
            "pull",
            [
                "sessions": [seeded.puller], "limit": 1_000, "cursor": .string("\(seeded.epoch):\(seeded.head)"),
            ])))
let pullSets = Int(pull["events"]!.intValue!)
let pullSeconds = Double(pull["seconds"]!.stringValue!)!
print(
    "pull: \(pullSets) change sets in pages of 1,000 in \(String(format: "%.2f", pullSeconds)) s = \(Int(Double(pullSets) / pullSeconds))/s (\(pull["bytes"]!.intValue! / 1_000_000) MB); server CPU \(String(format: "%.1f", cpuSeconds() - cpu)) s"
)
cpu = cpuSeconds()
let snapshot = try finish(try start(job("pull", ["sessions": [seeded.puller], "limit": 1_000])))
let snapshotRecords = Int(snapshot["events"]!.intValue!)
print(
    "first sync (reset snapshot): \(snapshotRecords) records in \(String(format: "%.2f", Double(snapshot["seconds"]!.stringValue!)!)) s; server CPU \(String(format: "%.1f", cpuSeconds() - cpu)) s"
)

// MARK: Live latency

let liveProcesses = 4
let liveUntil = Date().addingTimeInterval(quick ? 15 : 25)
let receivers = try (0..<liveProcesses).map { index in
    try start(
        job(
            "live",
            [
                "sessions": .array(
                    seeded.agents.enumerated().filter { $0.offset % liveProcesses == index }.map(\.element)),
                "until": .int(Int64(liveUntil.timeIntervalSince1970 * 1000)),
            ]))
}
clock = Date()
while await liveClientsGauge() < liveClients, Date().timeIntervalSince(clock) < 60 {
    try await Task.sleep(for: .milliseconds(100))  // waiting for the clients to connect
}
let connectedLive = await liveClientsGauge()
cpu = cpuSeconds()
let pusherResult = try finish(
    try start(
        job(
            "pusher",
            [
                "sessions": [seeded.puller], "cases": casesValue, "rate": 50, "seconds": quick ? 4 : 10,
            ])))
let liveCPU = cpuSeconds() - cpu
var sentAt: [Int64: Double] = [:]
for pair in pusherResult["sent"]!.arrayValue! {
    if let seq = pair[0]?.intValue, let at = pair[1]?.stringValue.flatMap(Double.init) { sentAt[seq] = at }
}
var latencies: [Double] = []
var received = 0
for receiver in try receivers.map(finish) {
    for notices in receiver["receivers"]!.arrayValue! {
        for notice in notices.arrayValue! {
            guard let pair = notice.arrayValue, pair.count == 2, let seq = pair[0].intValue, let sent = sentAt[seq],
                let at = pair[1].stringValue.flatMap(Double.init)
            else { continue }
            received += 1
            latencies.append((at - sent) * 1000)
        }
    }
}
latencies.sort()
@MainActor func percentile(_ p: Double) -> Double {
    latencies.isEmpty ? .nan : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]
}
print(
    "live: \(connectedLive) clients connected, \(sentAt.count) sets pushed at 50/s, \(received) notices measured (each case visible to 10 clients): p50 \(String(format: "%.1f", percentile(0.5))) ms, p99 \(String(format: "%.1f", percentile(0.99))) ms (push sent -> notice received); server CPU \(String(format: "%.1f", liveCPU)) s"
)

// MARK: Idle live clients

let rssBefore = residentMB()
let idleProcesses = 5
let idleUntil = Date().addingTimeInterval(quick ? 30 : 90)
let idlers = try (0..<idleProcesses).map { index in
    try start(
        job(
            "idle",
            [
                "sessions": .array(
                    seeded.idle.enumerated().filter { $0.offset % idleProcesses == index }.map(\.element)),
                "until": .int(Int64(idleUntil.timeIntervalSince1970 * 1000)),
            ]))
}
clock = Date()
while await liveClientsGauge() < idleClients, Date().timeIntervalSince(clock) < 80 {
    try await Task.sleep(for: .milliseconds(200))  // waiting for the clients to connect
}
let connectedIdle = await liveClientsGauge()
let rssIdle = residentMB()
print(
    "idle: \(connectedIdle) live clients connected; server resident \(Int(rssIdle)) MB (before them \(Int(rssBefore)) MB)"
)
for idler in idlers { _ = try finish(idler) }

for server in servers {
    server.terminate()
    server.waitUntilExit()
}
try? FileManager.default.removeItem(at: data)
// The push targets: 50,000 on SQLite, 30,000 for one PostgreSQL instance (none for several).
let pushTarget =
    databaseURL == nil ? "target >= 50000" : instances == 1 ? "target >= 30000" : "the 30000 target is for one instance"
print(
    "SUMMARY engine=\(databaseURL == nil ? "sqlite" : "postgres x\(instances)") push=\(Int(pushRate)) writes/s (\(pushTarget); server CPU \(String(format: "%.1f", pushCPU)) s over \(pushSeconds) s) pull=\(Int(Double(pullSets) / pullSeconds)) sets/s live-p50=\(String(format: "%.1f", percentile(0.5)))ms live-p99=\(String(format: "%.1f", percentile(0.99)))ms (targets < 10 / < 50) idle=\(connectedIdle) clients in \(Int(rssIdle)) MB (target 10000 in < 1024 MB)"
)
