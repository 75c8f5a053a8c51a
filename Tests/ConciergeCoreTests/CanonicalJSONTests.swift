import ConciergeCore
import Testing

@Suite struct CanonicalJSONTests {
    @Test func keysAreSortedByUTF8BytesWithoutWhitespace() throws {
        let value = try CanonicalJSON.decode(#" { "b" : 1, "a" : [ true, null ], "Z": "x", "é": 2, "e": -3 } "#)
        #expect(CanonicalJSON.string(value) == #"{"Z":"x","a":[true,null],"b":1,"e":-3,"é":2}"#)
    }

    @Test func slashIsNotEscapedAndControlsAre() throws {
        let value = Value.string("a/b\"c\\d\n\u{01}é")
        #expect(CanonicalJSON.string(value) == #""a/b\"c\\d\n\u0001é""#)
        #expect(try CanonicalJSON.decode(CanonicalJSON.encode(value)) == value)
    }

    @Test func escapesAndSurrogatePairsDecode() throws {
        #expect(try CanonicalJSON.decode(#""\u00e9\/\ud83d\ude00""#) == .string("é/😀"))
    }

    @Test func integersKeepAll64Bits() throws {
        #expect(try CanonicalJSON.decode("9223372036854775807") == .int(.max))
        #expect(try CanonicalJSON.decode("-9223372036854775808") == .int(.min))
        #expect(CanonicalJSON.string(.int(.min)) == "-9223372036854775808")
    }

    @Test(arguments: ["1.5", "1e3", "-0.0", "2E-1"])
    func floatsAreRefused(text: String) {
        #expect(throws: CodecError.self) { try CanonicalJSON.decode(text) }
        do { _ = try CanonicalJSON.decode(text) } catch { #expect(error.code == .floatNotAllowed) }
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "01", "tru", "\"abc", "\"\\x\"", "{\"a\":1,\"a\":2}",
        "9223372036854775808", "[1] 2", "\"\\ud800\"", "{1:2}",
    ])
    func malformedInputIsRefusedWithAnOffset(text: String) {
        do {
            _ = try CanonicalJSON.decode(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.message.contains("at byte"))
        }
    }

    @Test func mutatedInputNeverCrashesAndRoundTripsWhenAccepted() throws {
        let fleet = try Fleet.run(seed: 11, replicas: 3, steps: 10)
        let bytes = fleet.sets.first!.canonicalJSON
        var random = SplitMix64(seed: 5)
        for _ in 0..<2_000 {
            var mutated = bytes
            for _ in 0..<(1 + random.next() % 3) {
                mutated[Int(random.next() % UInt64(mutated.count))] = UInt8(truncatingIfNeeded: random.next())
            }
            guard let value = try? CanonicalJSON.decode(mutated) else { continue }
            #expect(try CanonicalJSON.decode(CanonicalJSON.encode(value)) == value)
        }
    }

    @Test func deepNestingIsRefused() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: CodecError.self) { try CanonicalJSON.decode(deep) }
    }

    /// A change set's bytes are written straight from the set (the push path hashes every set);
    /// they must be those of its tree, byte for byte, or content hashes would change.
    @Test func changeSetBytesAreThoseOfItsTree() throws {
        for seed in 0..<UInt64(max(propertyCases / 4, 20)) {
            let fleet = try Fleet.run(seed: seed, replicas: 2 + Int(seed % 5), steps: 40)
            for set in fleet.sets { #expect(set.canonicalJSON == CanonicalJSON.encode(set.value), "seed \(seed)") }
        }
        // Every operation, with what needs escaping in every string, large numbers and nested values.
        let replica = ReplicaID("0a1b2c3d-4e5f-4000-8abc-def012345678")!
        let odd = "q\"uo\\te\n\u{01}/é😀"
        let key = RecordKey(type: RecordType(odd), id: RecordID(odd))
        func stamp(_ raw: UInt64) -> Stamp { Stamp(hlc: HLC(rawValue: raw), replica: replica) }
        let changes: [Change] = [
            .write(
                field: odd, value: .object([odd: .array([.int(.min), .bool(false), .null]), "a": .int(-1)]),
                base: nil, stamp: stamp(.max), history: true, personal: false),
            .write(field: "f", value: .string(odd), base: stamp(1), stamp: stamp(0), history: false, personal: true),
            .add(field: odd, element: odd, stamp: stamp(2)),
            .remove(field: "tags", element: "", observed: [stamp(3), stamp(9)], stamp: stamp(4)),
            .remove(field: "tags", element: "x", observed: [], stamp: stamp(5)),
            .append(
                field: odd,
                entry: NewEntry(
                    id: EntryID(odd), stamp: stamp(6), kind: odd, payload: [odd: .string(odd), "b": .object([:])],
                    personal: [:])),
            .redactEntry(field: odd, entry: EntryID(odd), stamp: stamp(7)),
            .delete(stamp: stamp(8)),
            .redact(stamp: stamp(UInt64(Int64.max) + 1)),
        ]
        let set = ChangeSet(
            id: ChangeSetID(replica: replica, seq: UInt64(Int64.max)),
            author: Author(principal: PrincipalID(odd), role: Role(odd)),
            schemaVersion: 0, changes: changes.map { RecordChange(key, $0) })
        #expect(set.canonicalJSON == CanonicalJSON.encode(set.value))
        #expect(try ChangeSet(json: set.canonicalJSON) == set)
    }
}

@Suite struct CompactBinaryTests {
    @Test func generatedBatchesRoundTrip() throws {
        for seed in 0..<UInt64(max(propertyCases / 4, 20)) {
            let fleet = try Fleet.run(seed: seed, replicas: 2 + Int(seed % 7), steps: 30)
            #expect(try CompactBinary.decode(CompactBinary.encode(fleet.sets)) == fleet.sets, "seed \(seed)")
            for set in fleet.sets.prefix(5) { #expect(try ChangeSet(binary: set.compactBinary()) == set) }
        }
    }

    @Test func vectorsRoundTripIncludingForeignStampsAndLargeCounters() throws {
        let replica = ReplicaID("00000000-0000-4000-8000-000000000001")!
        let other = ReplicaID("ffffffff-0000-4000-8000-000000000001")!
        let key = RecordKey(type: .serviceCase, id: "not-a-uuid")
        let set = ChangeSet(
            id: ChangeSetID(replica: replica, seq: .max), author: Author(principal: "p", role: "futureRole"),
            schemaVersion: 7,
            changes: [
                RecordChange(
                    key,
                    .write(
                        field: "f",
                        value: ["a": [1, -2, true, nil], "long": .string(String(repeating: "é", count: 100))],
                        base: Stamp(hlc: HLC(millis: 5, counter: 900), replica: other),
                        stamp: Stamp(hlc: HLC(millis: 1, counter: .max), replica: other), history: true, personal: true)
                ),
                RecordChange(
                    key,
                    .remove(
                        field: "s", element: "x", observed: [Stamp(hlc: HLC(millis: 0), replica: replica)],
                        stamp: Stamp(hlc: HLC(millis: (1 << 48) - 1, counter: 3), replica: replica))),
                RecordChange(
                    key, .redactEntry(field: "t", entry: "e", stamp: Stamp(hlc: HLC(millis: 2), replica: replica))),
            ])
        #expect(try ChangeSet(binary: set.compactBinary()) == set)
    }

    @Test func truncatedOrCorruptInputIsRefused() throws {
        let fleet = try Fleet.run(seed: 3, replicas: 3, steps: 20)
        let bytes = CompactBinary.encode(fleet.sets)
        for cut in stride(from: 0, to: bytes.count - 1, by: max(1, bytes.count / 50)) {
            #expect(throws: CodecError.self) { try CompactBinary.decode(Array(bytes[..<cut])) }
        }
        var random = SplitMix64(seed: 9)
        for _ in 0..<200 {
            var corrupt = bytes
            corrupt[Int(random.next() % UInt64(corrupt.count))] ^= UInt8(truncatingIfNeeded: random.next() | 1)
            _ = try? CompactBinary.decode(corrupt)  // must not crash; errors are fine
        }
    }
}
