import ConciergeCore
import Foundation
import Testing

/// Runs the hand-worked vectors of `fixtures/merge-vectors/` (see its README for the format).
@Suite struct MergeVectorTests {
    static let vectorNames = Fixtures.files(in: "merge-vectors", withExtension: "json").map {
        $0.deletingPathExtension().lastPathComponent
    }

    @Test func thereAreVectorsForEveryRequiredCase() {
        for required in [
            "register-concurrent-equal-millis", "set-remove-while-readded", "status-customer-message-after-resolved",
            "status-customer-message-after-closed", "appointment-concurrent-acceptances", "redaction-races-edit",
            "deletion-races-edit", "unknown-field-kept-and-merged", "stamp-beyond-drift-rejected",
        ] {
            #expect(Self.vectorNames.contains(required), "missing vector \(required)")
        }
    }

    @Test(arguments: vectorNames)
    func vector(name: String) throws {
        let url = Fixtures.root.appendingPathComponent("merge-vectors/\(name).json")
        let vector = try CanonicalJSON.decode(Fixtures.bytes(url))
        let sets = try #require(vector["changeSets"]?.arrayValue).map { try ChangeSet(value: $0) }
        let expected = try #require(vector["expected"])
        let serverMillis = vector["serverMillis"]?.intValue.map(UInt64.init)

        // The vector's change sets are in canonical form: decoding and encoding keeps the bytes.
        for (set, raw) in zip(sets, vector["changeSets"]!.arrayValue!) {
            #expect(set.canonicalJSON == CanonicalJSON.encode(raw))
        }

        if let outcomes = expected["outcomes"]?.arrayValue, let serverMillis {
            for outcome in outcomes {
                let index = Int(outcome["changeSet"]!.intValue!)
                do {
                    try sets[index].validateStamps(serverMillis: serverMillis)
                    #expect(outcome["result"] == "accepted", "set \(index) should be rejected")
                } catch {
                    #expect(outcome["result"] == "rejected")
                    #expect(outcome["code"]?.stringValue == error.code.rawValue)
                }
            }
        }

        let expectedRecords = try #require(expected["records"]?.arrayValue)
        for order in try #require(vector["deliveries"]?.arrayValue) {
            var records: [RecordKey: Record] = [:]
            for index in order.arrayValue!.map({ Int($0.intValue!) }) {
                let set = sets[index]
                if let serverMillis, (try? set.validateStamps(serverMillis: serverMillis)) == nil { continue }
                try set.apply(to: &records)
            }
            let actual = records.keys.sorted().map { records[$0]!.value }
            #expect(
                CanonicalJSON.string(.array(actual)) == CanonicalJSON.string(.array(expectedRecords)),
                "\(name), order \(CanonicalJSON.string(order))")
            for (address, derived) in expected["derived"]?.objectValue ?? [:] {
                let parts = address.split(separator: "/", maxSplits: 1).map(String.init)
                let record = try #require(records[RecordKey(type: RecordType(parts[0]), id: RecordID(parts[1]))])
                try Self.check(derived, on: record, context: "\(name) \(address)")
            }
        }
    }

    static func check(_ derived: Value, on record: Record, context: String) throws {
        for (field, value) in derived["values"]?.objectValue ?? [:] {
            #expect((record.value(field) ?? .null) == value, "\(context): value of \(field)")
        }
        for (field, elements) in derived["sets"]?.objectValue ?? [:] {
            #expect(record.set(field)?.elements.map(Value.string) == elements.arrayValue, "\(context): set \(field)")
        }
        if let deleted = derived["deleted"]?.boolValue { #expect(record.isDeleted == deleted, "\(context): deleted") }
        guard let serviceCase = ServiceCase(record) else { return }
        if let status = derived["status"]?.stringValue {
            #expect(serviceCase.status.rawValue == status, "\(context): status")
        }
        if let followUp = derived["followUp"]?.stringValue {
            #expect(serviceCase.followUpID.rawValue == followUp, "\(context): follow-up")
        }
        if let after = derived["messagesAfterClose"]?.arrayValue {
            #expect(
                serviceCase.messagesAfterClose.map { Value.string($0.id.rawValue) } == after,
                "\(context): messages after close")
        }
        if let timeline = derived["timeline"]?.arrayValue {
            #expect(serviceCase.timeline.map { Value.string($0.id.rawValue) } == timeline, "\(context): timeline order")
        }
        if let appointments = derived["appointments"]?.arrayValue {
            let actual: [Value] = serviceCase.appointments.map { appointment in
                [
                    "proposal": .string(appointment.proposal.rawValue),
                    "confirmedSlot": appointment.confirmedSlot.map(Value.string) ?? .null,
                    "confirmingAnswer": appointment.confirmingAnswer.map { .string($0.rawValue) } ?? .null,
                    "supersededAnswers": .array(appointment.supersededAnswers.map { .string($0.rawValue) }),
                    "declinedSlots": .array(appointment.declinedSlots.map(Value.string)),
                ]
            }
            #expect(actual == appointments, "\(context): appointments")
        }
        for (field, groups) in derived["conflicts"]?.objectValue ?? [:] {
            let actual: [Value] = (serviceCase.conflicts[field] ?? []).map { group in
                ["values": .array(group.writes.map(\.value)), "kept": group.kept.value]
            }
            #expect(actual == groups.arrayValue, "\(context): conflicts of \(field)")
        }
    }
}

/// The integrity digest as docs/sync.md specifies it, on its worked example: the record of the
/// vector `status-customer-message-after-resolved` lands in bucket `case/f` (the first hex digit
/// of the SHA-256 of its id) with the SHA-256 of its canonical JSON and a newline.
@Suite struct IntegrityDigestTests {
    @Test func theWorkedExampleOfTheDocsHolds() throws {
        let url = Fixtures.root.appendingPathComponent("merge-vectors/status-customer-message-after-resolved.json")
        let vector = try CanonicalJSON.decode(Fixtures.bytes(url))
        var records: [RecordKey: Record] = [:]
        let serverMillis = vector["serverMillis"]?.intValue.map(UInt64.init)
        for set in try #require(vector["changeSets"]?.arrayValue).map({ try ChangeSet(value: $0) }) {
            if let serverMillis, (try? set.validateStamps(serverMillis: serverMillis)) == nil { continue }
            try set.apply(to: &records)
        }
        let digest = IntegrityDigest(records: records.values)
        let key = RecordKey(type: .serviceCase, id: "3c3c3c3c-0000-4000-8000-000000000003")
        #expect(IntegrityDigest.bucket(of: key) == "case/f")
        #expect(Array(digest.buckets.keys) == ["case/f"])
        #expect(digest.buckets["case/f"]?.count == 1)
        #expect(digest.buckets["case/f"]?.hash == "e8d017d9b6c745f639cda1445749728f8a8472a4f699a1df94bf35df69473c43")
    }
}
