// The storage engine's push path alone: `make bench-store`. Pushes go straight to the store in
// this process (no HTTP, no load generators), from 16 devices (BENCH_DEVICES) with a batch of 100
// change sets in flight each, the same sets as `make bench-server` makes. What it measures is the capacity of the
// engine's one writer, free of the noise of the other processes on this 2-core machine.
// BENCH_DATABASE_URL selects PostgreSQL (an empty database); BENCH_SECONDS the push time (5).
import BenchStore
import BenchSupport
import ConciergeCore
import ConciergeServer
import Foundation

let environment = ProcessInfo.processInfo.environment
let seconds = Double(environment["BENCH_SECONDS"] ?? "") ?? 5
let deviceCount = Int(environment["BENCH_DEVICES"] ?? "") ?? 16
let provider = ProviderID("bench")
let bench = try await BenchStore.open("store-bench")
defer { bench.remove() }
let (store, engine) = (bench.store, bench.engine)

func processCPU() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

// 10,000 cases, as `make bench-server` seeds them, written by a supervisor.
try await store.createProvider(id: provider, name: "Bench")
let supervisor = Principal(id: "sup", provider: provider, role: .supervisor, displayName: "Sup")
try await store.createPrincipal(supervisor)
let devices = try await store.enrolDevices(for: "sup", count: deviceCount + 1, name: "bench")
let seeder = Caller(principal: supervisor, replica: devices[deviceCount].replica)
var clock = HybridLogicalClock()
var cases: [String] = []
var seedSets: [ChangeSet] = []
for index in 0..<10_000 {
    let id = UUID().uuidString.lowercased()
    cases.append(id)
    seedSets.append(
        SetMaker.seedCase(
            id, index: index, provider: provider, skills: 100, replica: seeder.replica, author: supervisor.author,
            clock: &clock))
    if seedSets.count == 500 {
        _ = try await store.push(
            seedSets, from: seeder, serverMillis: UInt64(Date().timeIntervalSince1970 * 1000) + 1_000)
        seedSets = []
    }
}

let start = Date()
let cpuStart = processCPU()
let deadline = start.addingTimeInterval(seconds)
let caseIDs = cases
let tally = try await withThrowingTaskGroup(of: PushTally.self) { group in
    for (index, device) in devices.prefix(deviceCount).enumerated() {
        group.addTask {
            let caller = Caller(principal: supervisor, replica: device.replica)
            var maker = SetMaker(
                replica: device.replica, author: supervisor.author, random: SplitMix64(seed: UInt64(index)))
            var tally = PushTally()
            while Date() < deadline {
                let batch = (0..<100).map { _ in maker.make(cases: caseIDs) }
                let result = try await store.push(
                    batch, from: caller, serverMillis: UInt64(Date().timeIntervalSince1970 * 1000) + 1_000)
                tally.count(batch, result.outcomes)
            }
            return tally
        }
    }
    var total = PushTally()
    for try await tally in group { total.add(tally) }
    return total
}
let (writes, rejected) = (tally.writes, tally.rejected)
let elapsed = Date().timeIntervalSince(start)
let cpu = processCPU() - cpuStart
await store.close()
print(
    "store push (\(engine), in process, \(deviceCount) x 100 sets in flight): \(Int(Double(writes) / elapsed)) register writes/s, \(writes) in \(String(format: "%.1f", elapsed)) s; process CPU \(String(format: "%.1f", cpu)) s, \(Int(cpu * 1e6 / Double(max(writes, 1)))) µs per write; rejected \(rejected)"
)
