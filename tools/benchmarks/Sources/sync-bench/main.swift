// First-sync benchmark: `make bench-sync`. Seeds N cases (8 register fields and 3 timeline entries
// each) into a server database, starts the release `concierge-server` on it as a process of its own,
// and times a fresh replica file's first sync end to end: HTTP, decoding, merging and the replica's
// SQLite writes. The last line sums up.
import AsyncHTTPClient
import BenchSupport
import ConciergeClient
import ConciergeCore
import ConciergeServer
import ConciergeStore
import Foundation
import Logging

let environment = ProcessInfo.processInfo.environment
let caseCount = Int(environment["BENCH_CASES"] ?? "") ?? 100_000
let serverBinary = URL(
    fileURLWithPath: environment["CONCIERGE_SERVER_BINARY"] ?? "../../.build/release/concierge-server")
let data = FileManager.default.temporaryDirectory.appendingPathComponent("concierge-sync-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: data) }
let provider = ProviderID("bench")
var logger = Logger(label: "bench")
logger.logLevel = .error

// MARK: Seed, in process, before the server starts

let seedStart = ContinuousClock.now
let store = try SQLiteServerStore(path: data.appendingPathComponent("concierge.sqlite").path, logger: logger)
let tokens = try await TokenService.load(folder: data, lifetime: 3_600)
try await store.createProvider(id: provider, name: "Bench")
let supervisor = Principal(id: "sup", provider: provider, role: .supervisor, displayName: "Sup")
try await store.createPrincipal(supervisor)
let devices = try await store.enrolDevices(for: "sup", count: 2, name: "bench")
let seeder = SQLiteServerStore.Caller(principal: supervisor, replica: devices[0].replica)
var clock = HybridLogicalClock()
var sets: [ChangeSet] = []
for index in 0..<caseCount {
    let key = RecordKey(type: .serviceCase, id: RecordID(UUID().uuidString.lowercased()))
    let wall = UInt64(Date().timeIntervalSince1970 * 1000)
    func stamp() -> Stamp { Stamp(hlc: clock.tick(wallMillis: wall), replica: seeder.replica) }
    func write(_ field: String, _ value: Value, history: Bool = false, personal: Bool = false) -> RecordChange {
        RecordChange(
            key, .write(field: field, value: value, base: nil, stamp: stamp(), history: history, personal: personal))
    }
    func message(_ body: String, _ direction: String) -> RecordChange {
        RecordChange(
            key,
            .append(
                field: CaseFields.timeline,
                entry: NewEntry(
                    id: EntryID(UUID().uuidString.lowercased()), stamp: stamp(), kind: EntryKind.message,
                    payload: ["channel": "app", "direction": .string(direction)], personal: ["body": .string(body)])))
    }
    sets.append(
        ChangeSet(
            id: ChangeSetID(replica: seeder.replica, seq: UInt64(index + 1)), author: supervisor.author,
            schemaVersion: 1,
            changes: [
                write(CaseFields.provider, .string(provider.rawValue)),
                write(CaseFields.customer, .string("cust-\(index % 5_000)")),
                write(CaseFields.subject, "Internet drops every evening", personal: true),
                write(CaseFields.category, "connectivity", history: true),
                write(CaseFields.queue, "first-line"),
                write(CaseFields.priority, "normal", history: true),
                write(CaseFields.originChannel, "app"),
                write(CaseFields.slaDue, .int(Int64(wall) + 86_400_000)),
                message("Since Monday the connection drops around 8pm.", MessageDirection.inbound),
                message("Thanks, we are running a line test now.", MessageDirection.outbound),
                message("It happened again just now.", MessageDirection.inbound),
            ]))
    if sets.count == 500 || index == caseCount - 1 {
        _ = try await store.push(sets, from: seeder, serverMillis: wall + 1_000)
        sets = []
    }
}
print(
    "seeded \(caseCount) cases (8 register fields, 3 timeline entries each) in \(String(format: "%.1f", seconds(since: seedStart))) s"
)
let access = try await tokens.accessToken(for: supervisor, device: devices[1].replica)
let refresh = devices[1].refreshToken
let replicaID = devices[1].replica

// MARK: The server, as a process of its own

let server = try await ServerProcess.start(
    binary: serverBinary, data: data,
    environment: environment.merging([
        "CONCIERGE_LOG_LEVEL": "error", "CONCIERGE_SNAPSHOT_IMAGES": environment["BENCH_IMAGES"] == "0" ? "0" : "1",
    ]) { $1 })
defer { server.process.terminate() }
let url = server.url

// The server builds its snapshot images in the background after writes (here: after its start, as
// the seed was written before it). A running server has them current; the sync is timed once the
// builder reports that it has caught up (`concierge_snapshot_images_lag_positions 0` in /metrics).
// BENCH_IMAGES=0 starts the server without images: snapshots read every record from its rows.
let imagesStart = ContinuousClock.now
if environment["BENCH_IMAGES"] != "0" {
    var caughtUp = false
    while !caughtUp {
        let response = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: url.appendingPathComponent("metrics").absoluteString), timeout: .seconds(30))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 22))
        caughtUp = text.split(separator: "\n").contains { line in
            line.hasPrefix("concierge_snapshot_images_lag_positions ") && Double(line.split(separator: " ")[1]) == 0
        }
        if !caughtUp { try await Task.sleep(for: .milliseconds(100)) }
    }
    print(
        "the server built its snapshot images in \(String(format: "%.1f", seconds(since: imagesStart))) s (in the background after its start)"
    )
}

// MARK: The first sync into a fresh replica file

let session = Session(
    server: url, replica: replicaID, principal: "sup", provider: provider, role: .supervisor, refreshToken: refresh,
    accessToken: access)
let replicaPath = data.appendingPathComponent("replica.sqlite").path
let file = try ReplicaFile.create(path: replicaPath, session: session, label: "bench", nowMillis: 0)
let replica = Replica(store: file)
let transport = HTTPSyncTransport(session: session, timeout: .seconds(600))

// The first page alone: how soon the replica is usable (the newest activity), and the split between
// fetching (HTTP, the server's work, decoding) and applying (merging, SQLite writes).
let fetchStart = ContinuousClock.now
let fetched = try await transport.pull(PullRequest(cursor: nil, limit: 500))
let fetchSeconds = seconds(since: fetchStart)
let applyStart = ContinuousClock.now
_ = try replica.applyPullResponse(fetched)
let applySeconds = seconds(since: applyStart)
try file.close()
for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: replicaPath + suffix) }

// BENCH_TRACE=1: page by page, the time to fetch (HTTP, server, decoding) and to apply each page.
if environment["BENCH_TRACE"] != nil {
    let traced = try ReplicaFile.create(path: replicaPath, session: session, label: "bench", nowMillis: 0)
    let tracedReplica = Replica(store: traced)
    var token: String?
    var cursor: Cursor?
    var page = 0
    repeat {
        let fetchStart = ContinuousClock.now
        let response = try await transport.pull(PullRequest(cursor: cursor, limit: 500, snapshot: token))
        let fetch = seconds(since: fetchStart)
        let applyStart = ContinuousClock.now
        _ = try tracedReplica.applyPullResponse(response)
        let apply = seconds(since: applyStart)
        let metadata = try tracedReplica.metadata()
        token = metadata.snapshot
        cursor = metadata.cursor
        if page % 20 == 0 {
            print(
                "page \(page): fetch \(String(format: "%.1f", fetch * 1000)) ms, apply \(String(format: "%.1f", apply * 1000)) ms"
            )
        }
        page += 1
    } while token != nil
    try traced.close()
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: replicaPath + suffix) }
}

// End to end: a fresh replica file, the sync engine, pull until quiet.
let fresh = try ReplicaFile.create(path: replicaPath, session: session, label: "bench", nowMillis: 0)
let engine = SyncEngine(replica: Replica(store: fresh), transport: transport)
let start = ContinuousClock.now
let report = try await engine.sync()
let total = seconds(since: start)
let records = try fresh.read { try $0.confirmedKeys().count }
try fresh.close()
var bytes = 0
for suffix in ["", "-wal"] {
    bytes += (try? FileManager.default.attributesOfItem(atPath: replicaPath + suffix)[.size] as? Int) ?? 0
}
print(
    "first page (500 newest cases) usable after \(String(format: "%.0f", (fetchSeconds + applySeconds) * 1000)) ms: fetch and decode \(String(format: "%.0f", fetchSeconds * 1000)) ms, merge and SQLite writes \(String(format: "%.0f", applySeconds * 1000)) ms"
)
print(
    "first sync: \(records) cases (\(report.snapshotRecords) in the snapshot) in \(String(format: "%.2f", total)) s = \(Int(Double(records) / total)) cases/s; replica \(bytes / max(records, 1)) bytes per case (target: under 2 s, at least 50,000 cases/s)"
)
