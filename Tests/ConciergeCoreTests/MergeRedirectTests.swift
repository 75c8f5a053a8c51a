import ConciergeCore
import Testing

/// Merges of records (`mergedInto`): redirects followed to their end, cycles resolved to the
/// smallest id, and every replica reading the same survivors whatever order the merges came in.
@Suite struct MergeRedirectTests {
    static let ids = (0..<6).map { RecordID("case-\($0)") }

    /// Where each record points in a random graph over few ids, so cycles (two and longer) are
    /// common; every third graph has a forced two-cycle.
    static func graph(_ random: inout SplitMix64) -> [RecordID: RecordID] {
        var edges: [RecordID: RecordID] = [:]
        for id in ids where random.next() % 100 < 60 {
            edges[id] = ids[Int(random.next() % UInt64(ids.count))]
        }
        if random.next() % 3 == 0 {
            let a = ids[Int(random.next() % UInt64(ids.count))]
            let b = ids[Int(random.next() % UInt64(ids.count))]
            edges[a] = b
            edges[b] = a
        }
        return edges
    }

    @Test func aSurvivorIsReachedByTheRedirectsAndReadsAsItself() {
        var random = SplitMix64(seed: 11)
        for round in 0..<propertyCases {
            let edges = Self.graph(&random)
            let survivor = { (id: RecordID) in Redirects.survivor(of: id) { edges[$0] } }
            for id in Self.ids {
                let end = survivor(id)
                #expect(survivor(end) == end, "round \(round): \(id) reads as \(end), which reads as another")
                // Reachable from id by following the redirects.
                var reached: [RecordID] = [id]
                while let next = edges[reached.last!], !reached.contains(next) { reached.append(next) }
                #expect(reached.contains(end), "round \(round): \(end) is not on \(id)'s path")
                // Merged itself only when it closes a cycle, as the cycle's smallest id.
                if let next = edges[end], next != end {
                    var cycle: [RecordID] = [end]
                    while let step = edges[cycle.last!], step != end, !cycle.contains(step) { cycle.append(step) }
                    #expect(edges[cycle.last!] == end, "round \(round): \(end) is merged but on no cycle")
                    #expect(cycle.min() == end, "round \(round): \(end) is not the smallest id of its cycle")
                }
            }
        }
    }

    @Test func twoReplicasMergingEachIntoTheOtherKeepTheSmallerID() {
        let a = RecordID("0b1e"), b = RecordID("9f00")
        let edges = [a: b, b: a]
        #expect(Redirects.survivor(of: a) { edges[$0] } == a)
        #expect(Redirects.survivor(of: b) { edges[$0] } == a)
        let chain = [RecordID("x"): RecordID("y"), RecordID("y"): RecordID("z")]
        #expect(Redirects.survivor(of: "x") { chain[$0] } == "z")
    }

    /// Replicas merge and unmerge cases at once, offline; delivered in any order, every replica
    /// reads the same survivor for every case, and a case's merged timeline holds every entry.
    @Test func concurrentMergesAndUndosConvergeWhateverTheDeliveryOrder() throws {
        var random = SplitMix64(seed: 29)
        let keys = Self.ids.map { RecordKey(type: .serviceCase, id: $0) }
        for round in 0..<max(1, propertyCases / 4) {
            let replicas = (0..<3).map { ReplicaID(high: UInt64($0 + 1), low: UInt64(round)) }
            var sets: [ChangeSet] = []
            // Each case has one message, so the merged timelines can be checked.
            for (index, key) in keys.enumerated() {
                let stamp = Stamp(hlc: HLC(millis: 1_000 + UInt64(index)), replica: replicas[0])
                let entry = NewEntry(id: EntryID("m\(index)"), stamp: stamp, kind: EntryKind.message)
                sets.append(
                    Self.set(
                        replicas[0], seq: UInt64(index + 1),
                        [RecordChange(key, .append(field: CaseFields.timeline, entry: entry))]))
            }
            // Concurrent merges and undos with the same base: nobody saw the others' writes.
            for (number, replica) in replicas.enumerated() {
                for step in 0..<4 {
                    let key = keys[Int(random.next() % UInt64(keys.count))]
                    let into = Self.ids[Int(random.next() % UInt64(Self.ids.count))]
                    let value = random.next() % 4 == 0 ? Value.null : MergeMarker(into: into).value
                    let stamp = Stamp(
                        hlc: HLC(millis: 2_000 + random.next() % 50, counter: UInt16(step)), replica: replica)
                    let write = Change.write(
                        field: MergeFields.mergedInto, value: value, base: nil, stamp: stamp, history: true,
                        personal: false)
                    sets.append(Self.set(replica, seq: UInt64(100 + number * 10 + step), [RecordChange(key, write)]))
                }
            }
            var reference: [RecordID: RecordID]?
            for _ in 0..<3 {
                var order = sets
                order.shuffle(using: &random)
                var records: [RecordKey: Record] = [:]
                for set in order { try set.apply(to: &records) }
                let merges = MergedCases(records.values.compactMap(ServiceCase.init))
                let survivors = Dictionary(uniqueKeysWithValues: Self.ids.map { ($0, merges.survivor(of: $0)) })
                if let reference { #expect(survivors == reference, "round \(round): replicas read other survivors") }
                reference = survivors
                // Every entry shows under exactly one survivor.
                let shown = Set(survivors.values).flatMap { merges.timeline(of: $0).map(\.entry.id) }
                #expect(shown.sorted() == (0..<keys.count).map { EntryID("m\($0)") }.sorted(), "round \(round)")
            }
        }
    }

    static let agent = Author(principal: "ben", role: .agent)

    static func set(_ replica: ReplicaID, seq: UInt64, _ changes: [RecordChange]) -> ChangeSet {
        ChangeSet(id: ChangeSetID(replica: replica, seq: seq), author: agent, schemaVersion: 1, changes: changes)
    }
}
