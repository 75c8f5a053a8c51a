// Contact-intake benchmark: `make bench-intake`. Seeds a provider (numbers read in DE) with
// BENCH_CUSTOMERS customers (default 100,000), half known by a mobile number and half by an e-mail
// address, starts the release `concierge-server` on that database as a process of its own, and hands
// BENCH_CONTACTS contacts (default 20,000) to `POST /v1/integrations/contacts` over HTTP from
// BENCH_CONCURRENCY connections (default 64): calls from the customers' numbers written the national
// way (`0171 ...`), e-mails from their addresses in other case, and a tenth of the contacts are
// deliveries repeated (a gateway retrying), which must come back as duplicates. Every contact is
// matched to its customer by contact point; each lands on the customer's one open case (the first
// one opens it). The last line sums up.
import AsyncHTTPClient
import BenchSupport
import ConciergeCore
import ConciergeServer
import Foundation
import Logging
import NIOCore

let environment = ProcessInfo.processInfo.environment
let customerCount = Int(environment["BENCH_CUSTOMERS"] ?? "") ?? 100_000
let contactCount = Int(environment["BENCH_CONTACTS"] ?? "") ?? 20_000
let concurrency = Int(environment["BENCH_CONCURRENCY"] ?? "") ?? 64
let serverBinary = URL(
    fileURLWithPath: environment["CONCIERGE_SERVER_BINARY"] ?? "../../.build/release/concierge-server")
let data = FileManager.default.temporaryDirectory.appendingPathComponent("concierge-intake-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: data) }
let provider = ProviderID("bench")
var logger = Logger(label: "bench")
logger.logLevel = .error

/// Customer `index`'s number as stored (E.164) and as a caller's phone shows it.
func phoneNumber(_ index: Int) -> (stored: String, written: String) {
    let digits = String(format: "%08d", index)
    return ("+49171\(digits)", "0171 \(digits.prefix(4)) \(digits.suffix(4))")
}

func address(_ index: Int) -> (stored: String, written: String) {
    ("customer\(index)@example.com", "Customer \(index) <Customer\(index)@Example.com>")
}

// MARK: Seed, in process, before the server starts

let seedStart = ContinuousClock.now
let store = try SQLiteServerStore(path: data.appendingPathComponent("concierge.sqlite").path, logger: logger)
_ = try await TokenService.load(folder: data, lifetime: 3_600)
try await store.createProvider(id: provider, name: "Bench")
try await store.setDefaultRegion(of: provider, to: "DE")
_ = try await IntegrationAdmin.create(id: "gateway", provider: provider, name: "Gateway", store: store)
let (apiKey, _) = try await IntegrationAdmin.addKey(to: "gateway", channels: ["email", "phone"], store: store)
try await withThrowingTaskGroup(of: Void.self) { group in
    for worker in 0..<8 {
        group.addTask {
            for index in stride(from: worker, to: customerCount, by: 8) {
                let id = PrincipalID("c\(index)")
                try await store.createPrincipal(
                    Principal(id: id, provider: provider, role: .customer, displayName: "Customer \(index)"))
                let point =
                    index % 2 == 0
                    ? ContactPoint(kind: .phone, value: phoneNumber(index).stored)
                    : ContactPoint(kind: .email, value: address(index).stored)
                try await store.addContactPoint(
                    StoredContactPoint(
                        provider: provider, point: point, customer: id, verifiedBy: "staff:bench", verifiedAt: 1,
                        createdAt: 1))
            }
        }
    }
    try await group.waitForAll()
}
await store.close()
print(
    "seeded \(customerCount) customers with a contact point each in \(String(format: "%.1f", seconds(since: seedStart))) s"
)

// MARK: The server, as a process of its own

let server = try await ServerProcess.start(
    binary: serverBinary, data: data, environment: environment.merging(["CONCIERGE_LOG_LEVEL": "error"]) { $1 })
defer { server.process.terminate() }
let endpoint = server.url.appendingPathComponent("v1/integrations/contacts").absoluteString

// MARK: The contacts

/// Contact `number`: a call or an e-mail from a seeded customer; every tenth repeats an earlier one.
func contact(_ number: Int) -> (body: [UInt8], repeated: Bool) {
    let repeated = number % 10 == 9
    let n = repeated ? number - 9 : number
    let customer = (n &* 7_919) % customerCount
    let members: [String: Value]
    if customer % 2 == 0 {
        members = [
            "channel": "phone", "channelId": .string("call-\(n)"), "from": .string(phoneNumber(customer).written),
            "body": "Calling about the router", "call": ["durationSeconds": 180, "outcome": "answered"],
        ]
    } else {
        members = [
            "channel": "email", "channelId": .string("<m\(n)@mail.example>"),
            "from": .string(address(customer).written), "subject": "Router blinks red", "body": "It blinks.",
            "email": ["messageId": .string("<m\(n)@mail.example>")],
        ]
    }
    return (CanonicalJSON.encode(.object(members)), repeated)
}

struct Counts: Sendable {
    var taken = 0
    var duplicates = 0
    var failures = 0
    var latencies: [Double] = []
}

let client = HTTPClient(
    eventLoopGroupProvider: .singleton,
    configuration: .init(
        connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency)))

func send(_ number: Int) async throws -> (status: Int, duplicate: Bool, seconds: Double) {
    let (body, _) = contact(number)
    var request = HTTPClientRequest(url: endpoint)
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
    request.body = .bytes(ByteBuffer(bytes: body))
    let start = ContinuousClock.now
    let response = try await client.execute(request, timeout: .seconds(60))
    let bytes = try await response.body.collect(upTo: 1 << 16)
    let answer = try? CanonicalJSON.decode(bytes.readableBytesView)
    return (Int(response.status.code), answer?["duplicate"] == .bool(true), seconds(since: start))
}

// A short warm-up (not counted), then the timed run.
for number in 0..<min(200, contactCount) { _ = try await send(contactCount + 1_000_000 + number) }
let runStart = ContinuousClock.now
let counts = try await withThrowingTaskGroup(of: Counts.self) { group in
    for worker in 0..<concurrency {
        group.addTask {
            var counts = Counts()
            // Each worker sends its own stride; a repeat follows its original in the same worker.
            for number in stride(from: worker, to: contactCount, by: concurrency) {
                let (status, duplicate, latency) = try await send(number)
                counts.latencies.append(latency)
                if status == 201 {
                    counts.taken += 1
                } else if status == 200 && duplicate {
                    counts.duplicates += 1
                } else {
                    counts.failures += 1
                }
            }
            return counts
        }
    }
    var total = Counts()
    for try await part in group {
        total.taken += part.taken
        total.duplicates += part.duplicates
        total.failures += part.failures
        total.latencies += part.latencies
    }
    return total
}
let elapsed = seconds(since: runStart)
let sorted = counts.latencies.sorted()
func percentile(_ p: Double) -> Double {
    sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] * 1000
}
let rate = Double(contactCount) / elapsed
print(
    "\(contactCount) contacts from \(concurrency) connections in \(String(format: "%.1f", elapsed)) s: \(counts.taken) taken in, \(counts.duplicates) duplicates answered, \(counts.failures) failed; p50 \(String(format: "%.1f", percentile(0.5))) ms, p99 \(String(format: "%.1f", percentile(0.99))) ms"
)
print(
    "bench-intake: \(String(format: "%.0f", rate)) contacts/s through the integration API on SQLite, matched against \(customerCount) customers (target 5,000)"
)
try await client.shutdown()
