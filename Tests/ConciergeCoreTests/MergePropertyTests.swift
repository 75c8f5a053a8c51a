import ConciergeCore
import Testing

/// The merge laws, on generated histories of up to 8 replicas.
@Suite struct MergePropertyTests {
    /// Checks that replicas receiving every set in different random orders, with duplicates and
    /// delays, end byte-identical and keep every log entry. Returns the first failure.
    static func convergence(seed: UInt64, apply: Applier) throws -> String? {
        let replicas = 2 + Int(seed % 7)
        var fleet = try Fleet.run(seed: seed, replicas: replicas, steps: 10 + Int(seed % 30))
        var reference: [UInt8]?
        for _ in 0..<3 {
            var records: [RecordKey: Record] = [:]
            for set in fleet.deliveryOrder() { try apply(set, &records) }
            let bytes = canonicalBytes(records)
            if let reference, reference != bytes {
                return "seed \(seed): replicas diverged"
            }
            reference = bytes
            let kept = Set(records.values.flatMap { $0.log("timeline")?.entries.keys.map { $0 } ?? [] })
            if !fleet.appendedEntries.isSubset(of: kept) { return "seed \(seed): a log entry was lost" }
        }
        return nil
    }

    @Test func replicasConvergeWhateverTheDeliveryOrder() throws {
        for seed in 0..<UInt64(propertyCases) {
            let failure = try Self.convergence(seed: seed, apply: realApply)
            #expect(failure == nil)
            if failure != nil { break }
        }
    }

    /// States built from random subsets of a history, to merge with each other.
    static func states(seed: UInt64, count: Int) throws -> [[RecordKey: Record]] {
        var fleet = try Fleet.run(seed: seed, replicas: 2 + Int(seed % 7), steps: 10 + Int(seed % 25))
        return try (0..<count).map { _ in
            var records: [RecordKey: Record] = [:]
            for set in fleet.deliveryOrder() where fleet.chance(60) { try set.apply(to: &records) }
            return records
        }
    }

    static func merged(_ a: [RecordKey: Record], _ b: [RecordKey: Record]) throws -> [RecordKey: Record] {
        var result = a
        for (key, record) in b { result[key] = try result[key]?.merging(record) ?? record }
        return result
    }

    @Test func mergeIsCommutativeAssociativeAndIdempotent() throws {
        for seed in 0..<UInt64(propertyCases) {
            let s = try Self.states(seed: seed, count: 3)
            let (a, b, c) = (s[0], s[1], s[2])
            #expect(
                canonicalBytes(try Self.merged(a, b)) == canonicalBytes(try Self.merged(b, a)),
                "commutative, seed \(seed)")
            #expect(
                canonicalBytes(try Self.merged(Self.merged(a, b), c))
                    == canonicalBytes(try Self.merged(a, Self.merged(b, c))),
                "associative, seed \(seed)")
            #expect(canonicalBytes(try Self.merged(a, a)) == canonicalBytes(a), "idempotent, seed \(seed)")
            #expect(canonicalBytes(try Self.merged(Self.merged(a, b), b)) == canonicalBytes(try Self.merged(a, b)))
        }
    }

    /// Applying sets one by one and merging whole states give the same result.
    @Test func applyingSetsEqualsMergingStates() throws {
        for seed in 0..<UInt64(propertyCases / 2) {
            var fleet = try Fleet.run(seed: seed, replicas: 3, steps: 30)
            var applied: [RecordKey: Record] = [:]
            var merged: [RecordKey: Record] = [:]
            for set in fleet.deliveryOrder() {
                try set.apply(to: &applied)
                var single: [RecordKey: Record] = [:]
                try set.apply(to: &single)
                merged = try Self.merged(merged, single)
            }
            #expect(canonicalBytes(applied) == canonicalBytes(merged), "seed \(seed)")
        }
    }

    @Test func canonicalEncodingRoundTrips() throws {
        for seed in 0..<UInt64(propertyCases / 2) {
            let state = try Self.states(seed: seed, count: 1)[0]
            for record in state.values {
                let bytes = record.canonicalJSON
                let decoded = try Record(value: CanonicalJSON.decode(bytes))
                #expect(decoded == record)
                #expect(decoded.canonicalJSON == bytes)
            }
            let fleet = try Fleet.run(seed: seed, replicas: 3, steps: 12)
            for set in fleet.sets {
                let decoded = try ChangeSet(json: set.canonicalJSON)
                #expect(decoded == set)
                #expect(try ChangeSet(binary: set.compactBinary()) == set)
            }
        }
    }

    // MARK: Teeth

    /// The same convergence property, run against a merge without the replica-id tie-break
    /// (equal clocks: the first arrival wins), must fail.
    @Test func convergencePropertyCatchesAMergeWithoutTieBreak() throws {
        let broken: Applier = { set, records in
            var kept = set
            kept.changes = set.changes.filter { change in
                guard case .write(let field, _, _, let stamp, _, _) = change.change,
                    let existing = records[change.key]?.register(field)?.latest.stamp
                else { return true }
                return !(existing.hlc == stamp.hlc && existing.replica != stamp.replica)
            }
            try kept.apply(to: &records)
        }
        var failures = 0
        for seed in 0..<UInt64(max(propertyCases, 200)) where try Self.convergence(seed: seed, apply: broken) != nil {
            failures += 1
        }
        #expect(failures > 0, "the generators never produced equal clocks on one field")
    }

    /// Against a set that lets removes win over unobserved adds, the property must fail too.
    @Test func convergencePropertyCatchesARemoveWinsSet() throws {
        let broken: Applier = { set, records in
            var kept = set
            kept.changes = set.changes.map { change in
                guard case .remove(let field, let element, _, let stamp) = change.change else { return change }
                let all = records[change.key]?.set(field)?.adds.compactMap { $0.value == element ? $0.key : nil } ?? []
                return RecordChange(change.key, .remove(field: field, element: element, observed: all, stamp: stamp))
            }
            try kept.apply(to: &records)
        }
        var failures = 0
        for seed in 0..<UInt64(max(propertyCases, 200)) where try Self.convergence(seed: seed, apply: broken) != nil {
            failures += 1
        }
        #expect(failures > 0)
    }
}
