import Testing

@testable import ConciergeCore

@Suite struct BinaryFormTests {
    /// Every record a generated fleet's replicas end with: registers with and without history,
    /// add-wins sets with removed tags, logs with redactions, deletion and erasure markers, a field
    /// no schema declares, ids that are not UUIDs.
    static func records(seed: UInt64) throws -> [Record] {
        let fleet = try Fleet.run(seed: seed, replicas: 2 + Int(seed % 5), steps: 40)
        return fleet.members.flatMap { $0.view.values }
    }

    @Test func generatedRecordsRoundTripByteForByte() throws {
        var kinds = Set<FieldKind>()
        var markers = 0
        for seed in 0..<UInt64(max(propertyCases / 4, 20)) {
            let records = try Self.records(seed: seed)
            #expect(try BinaryForm.decodeRecords(BinaryForm.encode(records)) == records, "seed \(seed)")
            for record in records {
                let decoded = try Record(binary: record.binary)
                #expect(decoded == record, "seed \(seed)")
                #expect(decoded.canonicalJSON == record.canonicalJSON, "seed \(seed)")
                for field in record.fields.values {
                    kinds.insert(field.state.kind)
                    #expect(try Field(binary: field.binary) == field)
                    if case .log(let log) = field.state {
                        for entry in log.entries.values { #expect(try LogEntry(binary: entry.binary) == entry) }
                    }
                }
                if record.deleted != nil || record.redacted != nil { markers += 1 }
            }
        }
        // The generators reached every kind and the markers.
        #expect(kinds == Set(FieldKind.allCases))
        #expect(markers > 0)
    }

    /// The intern table finds items by scanning while small and by a dictionary past its scan
    /// limit: the same index for the same item on both sides of the limit, new items appended.
    @Test func internTableKeepsItsIndicesPastTheScanLimit() {
        var table = InternTable<String>()
        let count = InternTable<String>.scanLimit * 3
        for round in 0..<2 {
            for number in 0..<count {
                // Interleaves new items with ones already there, before and after the limit.
                #expect(table.index(of: "item \(number)") == number, "round \(round)")
                #expect(table.index(of: "item \(number / 2)") == number / 2)
            }
        }
        #expect(table.items == (0..<count).map { "item \($0)" })
        #expect(table["item 0"] == 0)
        #expect(table["item \(count - 1)"] == count - 1)
        #expect(table["absent"] == nil)
    }

    @Test func uuidIdsTakeSixteenBytesAndOtherIdsStayText() throws {
        let replica = ReplicaID("00000000-0000-4000-8000-000000000001")!
        let author = Author(principal: "p", role: .agent)
        let stamp = Stamp(hlc: HLC(millis: 1_700_000_000_000, counter: 70_00), replica: replica)
        for id in ["0e8b5c2a-1d7e-4f3a-9b2c-5d6e7f8a9b0c", "0E8B5C2A-1D7E-4F3A-9B2C-5D6E7F8A9B0C", "case-1", ""] {
            var record = Record(key: RecordKey(type: .serviceCase, id: RecordID(id)))
            try record.apply(
                .write(field: "subject", value: "é", base: nil, stamp: stamp, history: true, personal: true), by: author
            )
            try record.apply(
                .append(
                    field: "timeline",
                    entry: NewEntry(
                        id: EntryID(id), stamp: stamp, kind: "message", payload: ["n": 1], personal: ["body": "x"])),
                by: author)
            let decoded = try Record(binary: record.binary)
            #expect(decoded == record)
            #expect(decoded.id.rawValue == id)
        }
    }

    @Test func pullResponsesRoundTrip() throws {
        for seed in 0..<UInt64(max(propertyCases / 10, 10)) {
            let fleet = try Fleet.run(seed: seed, replicas: 3, steps: 30)
            let records = fleet.members.flatMap { $0.view.values }
            var events: [PullEvent] = fleet.sets.map(PullEvent.changeSet)
            for (index, record) in records.enumerated() {
                events.insert(index % 2 == 0 ? .enter(record) : .leave(record.key), at: index * 3 % (events.count + 1))
            }
            let responses: [PullResponse] = [
                .page(PullPage(events: events, cursor: Cursor(epoch: "e-\(seed)", seq: seed * 1_000), hasMore: true)),
                .page(PullPage(events: [], cursor: Cursor(epoch: "e", seq: 0), hasMore: false)),
                .reset(ResetSnapshot(records: records, cursor: Cursor(epoch: "e", seq: 7), reason: "initial")),
                .reset(
                    ResetSnapshot(
                        records: records, cursor: Cursor(epoch: "e", seq: .max), reason: "compacted", continues: true,
                        more: "token-\(seed)")),
                // Records both decoded and as images (as the server keeps them, not decoded).
                .reset(
                    ResetSnapshot(
                        records: Array(records.prefix(2)),
                        images: records.dropFirst(2).map { RecordImage(bytes: $0.binary) },
                        cursor: Cursor(epoch: "e", seq: 9), reason: "initial", more: "t")),
            ]
            for response in responses {
                let decoded = try PullResponse(binary: response.binary)
                #expect(decoded == response, "seed \(seed)")
                // Images arrive decoded; inlined, they are the records they were made of.
                guard case .reset(let snapshot) = decoded else { continue }
                #expect(snapshot.images.allSatisfy { $0.checked != nil })
                #expect(try snapshot.allRecords() == records, "seed \(seed)")
                #expect(try PullResponse(value: decoded.value) == (try decoded.inliningImages()))
            }
        }
    }

    /// Checking an image (no values built) finds what decoding it finds: the same key and largest
    /// stamp for every record; and it refuses every input the decoder refuses for its structure
    /// (corrupt bytes it lets through still decode, or fail only on what only values can show).
    @Test func checkingAnImageAgreesWithDecodingIt() throws {
        var random = SplitMix64(seed: 29)
        var refusedByBoth = 0
        for seed in 0..<UInt64(max(propertyCases / 10, 10)) {
            for record in try Self.records(seed: seed) {
                let bytes = record.binary
                let checked = try RecordImage(checking: bytes).checked
                #expect(checked == RecordImage.Checked(key: record.key, largestStamp: record.largestStamp))
                for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 10)) {
                    #expect(throws: CodecError.self) { try RecordImage(checking: Array(bytes[..<cut])) }
                }
                for _ in 0..<20 {
                    var corrupt = bytes
                    corrupt[Int(random.next() % UInt64(corrupt.count))] ^= UInt8(truncatingIfNeeded: random.next() | 1)
                    let decoded = Result { () throws(CodecError) in try Record(binary: corrupt) }
                    switch Result(catching: { () throws(CodecError) in try RecordImage(checking: corrupt) }) {
                    case .success(let image):
                        // Accepted: the decoder agrees, or refuses only colliding values. (A
                        // removed set tag no add has is counted here, dropped by the decoded set.)
                        if case .success(let record) = decoded {
                            #expect(image.checked?.key == record.key)
                            if let expected = record.largestStamp {
                                #expect(image.checked?.largestStamp.map { $0 >= expected } == true)
                            }
                        } else if case .failure(let error) = decoded {
                            #expect(["collide", "duplicate key"].contains { error.message.contains($0) }, "\(error)")
                        }
                    case .failure:
                        #expect(throws: CodecError.self) { try decoded.get() }
                        refusedByBoth += 1
                    }
                }
            }
        }
        #expect(refusedByBoth > 0)
    }

    @Test func truncatedOrCorruptInputIsRefusedWithoutCrashing() throws {
        let records = try Self.records(seed: 5)
        let forms: [([UInt8], ([UInt8]) throws -> Void)] = [
            (BinaryForm.encode(records), { _ = try BinaryForm.decodeRecords($0) }),
            (
                PullResponse.reset(ResetSnapshot(records: records, cursor: Cursor(epoch: "e", seq: 1), reason: "x"))
                    .binary,
                { _ = try PullResponse(binary: $0) }
            ),
            (
                PullResponse.reset(
                    ResetSnapshot(
                        records: [], images: records.map(RecordImage.init), cursor: Cursor(epoch: "e", seq: 1),
                        reason: "x")
                ).binary,
                { _ = try PullResponse(binary: $0) }
            ),
        ]
        var random = SplitMix64(seed: 11)
        for (bytes, decode) in forms {
            for cut in stride(from: 0, to: bytes.count - 1, by: max(1, bytes.count / 60)) {
                #expect(throws: CodecError.self) { try decode(Array(bytes[..<cut])) }
            }
            #expect(throws: CodecError.self) { try decode(bytes + [0]) }
            for _ in 0..<300 {
                var corrupt = bytes
                corrupt[Int(random.next() % UInt64(corrupt.count))] ^= UInt8(truncatingIfNeeded: random.next() | 1)
                _ = try? decode(corrupt)  // must not crash; errors are fine
            }
        }
        // An image that is not one record in the binary form refuses the whole page.
        for bytes in [records[0].binary.dropLast(1), BinaryForm.encode(Array(records.prefix(2)))[...]] {
            let page = PullResponse.reset(
                ResetSnapshot(
                    records: [], images: [RecordImage(bytes: Array(bytes))], cursor: Cursor(epoch: "e", seq: 1),
                    reason: "x"))
            #expect(throws: CodecError.self) { try PullResponse(binary: page.binary) }
        }
        // The forms do not accept each other, nor JSON.
        let field = records.first { !$0.fields.isEmpty }!.fields.values.first!
        #expect(throws: CodecError.self) { try Record(binary: field.binary) }
        #expect(throws: CodecError.self) { try Field(binary: Array(#"{"kind":"register"}"#.utf8)) }
        #expect(BinaryForm.isBinary(field.binary))
        #expect(!BinaryForm.isBinary(CanonicalJSON.encode(field.value)))
    }

    @Test func isAFractionOfTheJSONSize() throws {
        let records = try (0..<5).flatMap { try Self.records(seed: $0) }
        let json = records.reduce(0) { $0 + $1.canonicalJSON.count }
        let binary = BinaryForm.encode(records).count
        #expect(binary * 3 < json, "binary \(binary) bytes, JSON \(json)")
    }
}
