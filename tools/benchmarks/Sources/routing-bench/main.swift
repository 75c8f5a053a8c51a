// Automatic assignment under load: `make bench-routing`. 1,000 specialists (BENCH_STAFF) in ten
// skills, on shift, each taking up to 200 app cases at once, and 100,000 new cases (BENCH_CASES)
// of 10,000 customers pushed straight to the store in this process (no HTTP) from 16 devices with a
// batch of 100 sets in flight each. Every case is routed inside the push that creates it (the
// routing reaction: skill, shift, capacity, continuity), so the open cases grow to 100,000 as it
// runs. It prints the assignments per second over the whole run and over the last tenth (with
// 90,000 and more open), then checks every case got an owner and the workloads add up.
// BENCH_DATABASE_URL selects PostgreSQL (an empty database). The last line sums up.
import BenchStore
import BenchSupport
import ConciergeCore
import ConciergeServer
import Foundation
import Synchronization

let environment = ProcessInfo.processInfo.environment
let staffCount = Int(environment["BENCH_STAFF"] ?? "") ?? 1_000
let caseCount = Int(environment["BENCH_CASES"] ?? "") ?? 100_000
let deviceCount = 16
let batchSize = 100
let skills = 10
let customers = max(1, caseCount / 10)
let provider = ProviderID("bench")
let bench = try await BenchStore.open("routing-bench")
defer { bench.remove() }
let (store, engine) = (bench.store, bench.engine)

/// Change sets of one device, stamped by its own clock.
struct SetWriter {
    let replica: ReplicaID
    let author: Author
    var clock = HybridLogicalClock()
    var seq: UInt64 = 0
    var changes: [RecordChange] = []

    init(replica: ReplicaID, author: Author) {
        self.replica = replica
        self.author = author
    }

    mutating func stamp() -> Stamp {
        Stamp(hlc: clock.tick(wallMillis: UInt64(Date().timeIntervalSince1970 * 1000)), replica: replica)
    }

    mutating func write(_ value: Value, _ field: String, _ key: RecordKey, history: Bool = false) {
        changes.append(
            RecordChange(
                key, .write(field: field, value: value, base: nil, stamp: stamp(), history: history, personal: false)))
    }

    mutating func add(_ element: String, _ field: String, _ key: RecordKey) {
        changes.append(RecordChange(key, .add(field: field, element: element, stamp: stamp())))
    }

    mutating func finish() -> ChangeSet {
        seq += 1
        defer { changes = [] }
        return ChangeSet(
            id: ChangeSetID(replica: replica, seq: seq), author: author, schemaVersion: Schema.current.version,
            changes: changes)
    }
}

func now() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) + 1_000 }

// The directory: 1,000 specialists, written by a supervisor.
try await store.createProvider(id: provider, name: "Bench")
let supervisor = Principal(id: "sup", provider: provider, role: .supervisor, displayName: "Sup")
try await store.createPrincipal(supervisor)
let devices = try await store.enrolDevices(for: "sup", count: deviceCount + 1, name: "bench")
var directory = SetWriter(replica: devices[deviceCount].replica, author: supervisor.author)
var directorySets: [ChangeSet] = []
for index in 0..<staffCount {
    let id = String(format: "spec-%04d", index)
    try await store.createPrincipal(
        Principal(id: PrincipalID(id), provider: provider, role: .specialist, displayName: id))
    let key = RecordKey(type: .staff, id: RecordID(id))
    directory.write(.string(provider.rawValue), StaffFields.provider, key)
    directory.add("skill-\(index % skills)", StaffFields.skills, key)
    directory.write(Capacity(["app": 200]).value, StaffFields.capacity, key)
    directory.write(.string(Availability.onShift.rawValue), StaffFields.availability, key, history: true)
    directorySets.append(directory.finish())
}
for start in stride(from: 0, to: directorySets.count, by: 200) {
    let outcomes = try await store.push(
        Array(directorySets[start..<min(start + 200, directorySets.count)]),
        from: Caller(principal: supervisor, replica: directory.replica), serverMillis: now()
    ).outcomes
    precondition(outcomes.allSatisfy { $0.status == .accepted }, "the directory was refused: \(outcomes)")
}

// The cases: each device opens its share, customer by customer (so customers come back).
let perDevice = caseCount / deviceCount
let start = Date()
let lastTenthStart = Mutex<Date?>(nil)
let done = Atomic<Int>(0)
let results = try await withThrowingTaskGroup(of: (accepted: Int, rejected: Int, keys: [RecordKey]).self) { group in
    for (index, device) in devices.prefix(deviceCount).enumerated() {
        group.addTask {
            let caller = Caller(principal: supervisor, replica: device.replica)
            var writer = SetWriter(replica: device.replica, author: supervisor.author)
            var (accepted, rejected) = (0, 0)
            var keys: [RecordKey] = []
            for batchStart in stride(from: 0, to: perDevice, by: batchSize) {
                var batch: [ChangeSet] = []
                for offset in batchStart..<min(batchStart + batchSize, perDevice) {
                    let number = index * perDevice + offset
                    let key = RecordKey(type: .serviceCase, id: RecordID(UUID().uuidString.lowercased()))
                    keys.append(key)
                    writer.write(.string(provider.rawValue), CaseFields.provider, key)
                    writer.write(.string("cust-\(number % customers)"), CaseFields.customer, key)
                    writer.write(.string("app"), CaseFields.originChannel, key)
                    writer.write(.string("skill-\(number % skills)"), CaseFields.requiredSkill, key, history: true)
                    batch.append(writer.finish())
                }
                let outcomes = try await store.push(batch, from: caller, serverMillis: now()).outcomes
                accepted += outcomes.count { $0.status == .accepted }
                rejected += outcomes.count { $0.status == .rejected }
                let total = done.add(batch.count, ordering: .relaxed).newValue
                if total >= caseCount * 9 / 10 {
                    lastTenthStart.withLock { if $0 == nil { $0 = Date() } }
                }
            }
            return (accepted, rejected, keys)
        }
    }
    var all: [(accepted: Int, rejected: Int, keys: [RecordKey])] = []
    for try await result in group { all.append(result) }
    return all
}
let elapsed = Date().timeIntervalSince(start)
let tenthElapsed = Date().timeIntervalSince(lastTenthStart.withLock { $0 } ?? start)
let accepted = results.reduce(0) { $0 + $1.accepted }
let rejected = results.reduce(0) { $0 + $1.rejected }
let keys = results.flatMap { $0.keys }

// Every case has an owner, and the workloads hold exactly the cases.
var unassigned = 0
var assignedTo: [String: Int] = [:]
for key in keys {
    guard let owner = try await store.record(key).flatMap(ServiceCase.init)?.assignee else {
        unassigned += 1
        continue
    }
    assignedTo[owner.rawValue, default: 0] += 1
}
var mismatched = 0
var held = 0
for index in 0..<staffCount {
    let id = String(format: "spec-%04d", index)
    let workload = Workload(try await store.record(RecordKey(type: .workload, id: RecordID(id))))
    held += workload.openCases.count
    if workload.openCases.count != assignedTo[id, default: 0] { mismatched += 1 }
}
let loads = assignedTo.values.sorted()
await store.close()
let lastTenth = caseCount - caseCount * 9 / 10
print(
    "routing (\(engine), in process, \(staffCount) specialists in \(skills) skills, \(deviceCount) x \(batchSize) sets in flight): \(accepted) cases opened and assigned in \(String(format: "%.1f", elapsed)) s, rejected \(rejected)"
)
print(
    "check: \(unassigned) without an owner, \(held) open cases in workloads, \(mismatched) workloads differing from the assignments; cases per specialist min \(loads.first ?? 0), max \(loads.last ?? 0)"
)
print(
    "routing (\(engine)): \(Int(Double(accepted) / elapsed)) assignments/s overall, \(Int(Double(lastTenth) / max(tenthElapsed, 0.001))) assignments/s with \(caseCount * 9 / 10)+ open cases (target 2,000/s on SQLite)"
)
