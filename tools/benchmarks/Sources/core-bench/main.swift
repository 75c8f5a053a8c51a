// Core benchmarks. Run with `make bench-core` (release build). Single-threaded; the last line sums up.
//
// 1. Merge rate: 1,000 cases x 8 register fields (the case schema's own: 5 keep history),
//    1,000,000 random writes from 2 replicas, merged into in-memory records.
// 2. Codec throughput: a realistic mix of change sets, canonical JSON and compact binary, MB/s of
//    the encoded form.
// 3. Bytes sent: one replica makes 100,000 offline edits over those cases through the real local
//    write path (Replica.edit, with outbox coalescing); what it then sends the other replica.
import ConciergeCore
import Foundation

let caseCount = 1_000
let fields = [
    CaseFields.subject, CaseFields.category, CaseFields.requiredSkill, CaseFields.queue,
    CaseFields.priority, CaseFields.assignee, CaseFields.originChannel, CaseFields.summary,
]
let declarations = fields.map { Schema.current.declaration(of: $0, on: .serviceCase)! }
nonisolated(unsafe) var random = SplitMix64(seed: 42)
let keys = (0..<caseCount).map { _ in RecordKey(type: .serviceCase, id: RecordID(ReplicaID.random().description)) }
let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
func randomString(_ length: Int) -> String {
    String(decoding: (0..<length).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }, as: UTF8.self)
}
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
func best<T>(of runs: Int, _ body: () throws -> T) rethrows -> (Double, T) {
    var bestTime = Double.infinity
    var result: T?
    for _ in 0..<runs {
        let clock = ContinuousClock()
        var value: T?
        let elapsed = try clock.measure { value = try body() }
        if seconds(elapsed) < bestTime {
            bestTime = seconds(elapsed)
            result = value
        }
    }
    return (bestTime, result!)
}
func format(_ value: Double) -> String { String(format: "%.0f", value) }

// MARK: 1. Merge rate

let replicas = [ReplicaID.random(), ReplicaID.random()]
let authors = [Author(principal: "agent-a", role: .agent), Author(principal: "agent-b", role: .agent)]
let writeCount = 1_000_000
nonisolated(unsafe) var clocks = [HybridLogicalClock(), HybridLogicalClock()]
nonisolated(unsafe) var wall: UInt64 = 1_800_000_000_000
let values = (0..<64).map { _ in Value.string(randomString(20)) }

/// Merges 1,000,000 writes from 2 replicas (each replica's writes in order, the two streams
/// interleaved at random); `history` says which fields keep every write.
func mergeRate(history: (Int) -> Bool) throws -> Double {
    var writes: [(key: RecordKey, change: Change, author: Int)] = []
    writes.reserveCapacity(writeCount)
    for _ in 0..<writeCount {
        wall += random.next() % 2
        let who = Int(random.next() % 2)
        let field = Int(random.next() % UInt64(fields.count))
        let stamp = Stamp(hlc: clocks[who].tick(wallMillis: wall), replica: replicas[who])
        writes.append(
            (
                keys[Int(random.next() % UInt64(caseCount))],
                .write(
                    field: fields[field], value: values[Int(random.next() % 64)], base: nil, stamp: stamp,
                    history: history(field), personal: declarations[field].personal),
                who
            ))
    }
    let (time, records) = try best(of: 3) { () throws -> [RecordKey: Record] in
        var records = Dictionary(uniqueKeysWithValues: keys.map { ($0, Record(key: $0)) })
        for index in writes.indices {
            try records[writes[index].key]!.apply(writes[index].change, by: authors[writes[index].author])
        }
        return records
    }
    precondition(records.count == caseCount)
    return Double(writeCount) / time
}
let plainRate = try mergeRate(history: { _ in false })
print(
    "merge: \(writeCount) writes into \(caseCount) cases x \(fields.count) plain registers: \(format(plainRate)) merges/s (one core)"
)
let historyRate = try mergeRate(history: { declarations[$0].history })
print(
    "merge: the same with the case schema's history on 5 of the 8 fields (every write kept): \(format(historyRate)) merges/s"
)

// MARK: 2. Codec throughput

if ProcessInfo.processInfo.environment["CORE_BENCH_ONLY"] == "merge" { exit(0) }

var codecSets: [ChangeSet] = []
for seq in 1...20_000 {
    let who = seq % 2
    var changes: [RecordChange] = []
    let key = keys[Int(random.next() % UInt64(caseCount))]
    for _ in 0..<(1 + random.next() % 4) {
        let field = Int(random.next() % UInt64(fields.count))
        changes.append(
            RecordChange(
                key,
                .write(
                    field: fields[field], value: .string(randomString(20)),
                    base: Stamp(hlc: clocks[1 - who].latest, replica: replicas[1 - who]),
                    stamp: Stamp(hlc: clocks[who].tick(wallMillis: wall), replica: replicas[who]),
                    history: declarations[field].history, personal: declarations[field].personal)))
    }
    if seq % 10 == 0 {
        changes.append(
            RecordChange(
                key,
                .append(
                    field: CaseFields.timeline,
                    entry: NewEntry(
                        id: EntryID(ReplicaID.random().description),
                        stamp: Stamp(hlc: clocks[who].tick(wallMillis: wall), replica: replicas[who]),
                        kind: EntryKind.message, payload: ["channel": "app", "direction": "inbound"],
                        personal: ["body": .string(randomString(120))]))))
    }
    codecSets.append(
        ChangeSet(
            id: ChangeSetID(replica: replicas[who], seq: UInt64(seq)), author: authors[who], schemaVersion: 1,
            changes: changes))
}
let (jsonEncodeTime, jsonDocuments) = best(of: 3) { codecSets.map(\.canonicalJSON) }
let jsonBytes = jsonDocuments.reduce(0) { $0 + $1.count }
let (jsonDecodeTime, decodedJSON) = try best(of: 3) { try jsonDocuments.map { try ChangeSet(json: $0) } }
precondition(decodedJSON == codecSets)
let (binaryEncodeTime, binaryBatches) = best(of: 3) {
    stride(from: 0, to: codecSets.count, by: 100).map {
        CompactBinary.encode(Array(codecSets[$0..<min($0 + 100, codecSets.count)]))
    }
}
let binaryBytes = binaryBatches.reduce(0) { $0 + $1.count }
let (binaryDecodeTime, decodedBinary) = try best(of: 3) { try binaryBatches.flatMap { try CompactBinary.decode($0) } }
precondition(decodedBinary == codecSets)
let mb = { (bytes: Int, time: Double) in Double(bytes) / 1_000_000 / time }
print(
    "codec: \(codecSets.count) change sets, JSON \(jsonBytes / 1000) KB: encode \(format(mb(jsonBytes, jsonEncodeTime))) MB/s, decode \(format(mb(jsonBytes, jsonDecodeTime))) MB/s"
)
print(
    "codec: same sets in binary batches of 100, \(binaryBytes / 1000) KB: encode \(format(mb(binaryBytes, binaryEncodeTime))) MB/s, decode \(format(mb(binaryBytes, binaryDecodeTime))) MB/s"
)

// MARK: 3. Bytes sent after 100,000 offline edits

final class BenchClock: WallClock, @unchecked Sendable {
    var millis: UInt64 = 1_800_000_000_000
    func nowMillis() -> UInt64 { millis }
}
let benchClock = BenchClock()
let seeder = Replica(
    store: InMemoryReplicaStore(replica: .random(), author: Author(principal: "agent-seed", role: .agent)),
    wallClock: benchClock)
let editor = Replica(
    store: InMemoryReplicaStore(replica: .random(), author: Author(principal: "agent-offline", role: .agent)),
    wallClock: benchClock)
var seedSets: [ChangeSet] = []
for key in keys {
    seedSets.append(
        try seeder.edit { editor in
            for field in fields { try editor.write(.string(randomString(20)), to: field, of: key) }
        }!)
}
_ = try editor.applyPullResponse(
    .page(
        PullPage(
            events: seedSets.map(PullEvent.changeSet), cursor: Cursor(epoch: "bench", seq: UInt64(seedSets.count)),
            hasMore: false)))
let offlineEdits = 100_000
var finalValues: [RecordKey: [String: String]] = [:]
let editStart = ContinuousClock.now
for _ in 0..<offlineEdits {
    benchClock.millis += 1
    let key = keys[Int(random.next() % UInt64(caseCount))]
    let field = fields[Int(random.next() % UInt64(fields.count))]
    let value = randomString(20)
    finalValues[key, default: [:]][field] = value
    try editor.edit { try $0.write(.string(value), to: field, of: key) }
}
let editTime = seconds(ContinuousClock.now - editStart)
let outbox = try editor.outbox().map(\.changeSet)
let changed = finalValues.values.reduce(0) { $0 + $1.count }
let writesSent = outbox.reduce(0) { $0 + $1.changes.count }
precondition(writesSent == changed, "coalescing must leave one write per changed field")
let sentWhole = CompactBinary.encode(outbox).count
let sentIn1000 = stride(from: 0, to: outbox.count, by: 1_000).reduce(0) {
    $0 + CompactBinary.encode(Array(outbox[$1..<min($1 + 1_000, outbox.count)])).count
}
let sentIn100 = stride(from: 0, to: outbox.count, by: 100).reduce(0) {
    $0 + CompactBinary.encode(Array(outbox[$1..<min($1 + 100, outbox.count)])).count
}
let sentJSON = outbox.reduce(0) { $0 + $1.canonicalJSON.count }
// A plain last-value delta: 16-byte case id, 1-byte field number, 1-byte length, the value.
let plainDelta = finalValues.values.reduce(0) { sum, fields in sum + fields.values.reduce(0) { $0 + 18 + $1.utf8.count }
}
// The receiving replica decodes and merges what was sent and ends with the sender's state.
var receiver: [RecordKey: Record] = [:]
for set in seedSets + (try CompactBinary.decode(CompactBinary.encode(outbox))) { try set.apply(to: &receiver) }
for key in keys {
    let sender = try editor.visibleRecord(key)!.canonicalJSON
    precondition(receiver[key]!.canonicalJSON == sender, "the receiver must end with the sender's state")
}
print(
    "offline: \(offlineEdits) edits through Replica.edit in \(String(format: "%.2f", editTime)) s (\(format(Double(offlineEdits) / editTime)) edits/s); outbox \(outbox.count) sets, \(writesSent) writes after coalescing"
)
print(
    "sent: binary one batch \(sentWhole / 1000) KB, batches of 1,000 sets \(sentIn1000 / 1000) KB, batches of 100 sets \(sentIn100 / 1000) KB, canonical JSON \(sentJSON / 1000) KB; plain last-value delta \(plainDelta / 1000) KB"
)
print(
    "SUMMARY merges/s=\(format(plainRate)) (target >= 2000000; with history \(format(historyRate))) json-encode=\(format(mb(jsonBytes, jsonEncodeTime)))MB/s json-decode=\(format(mb(jsonBytes, jsonDecodeTime)))MB/s binary-encode=\(format(mb(binaryBytes, binaryEncodeTime)))MB/s binary-decode=\(format(mb(binaryBytes, binaryDecodeTime)))MB/s sent=\(sentWhole / 1000)KB (target <= 310KB; 1000-set batches \(sentIn1000 / 1000)KB; plain delta \(plainDelta / 1000)KB)"
)
