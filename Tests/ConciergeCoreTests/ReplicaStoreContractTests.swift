import ConciergeCore
import Testing

/// The contract every ``ReplicaStore`` keeps. `ConciergeStore`'s SQLite store runs the same checks.
enum ReplicaStoreContract {
    struct Failure: Error {}

    static let key = RecordKey(type: .serviceCase, id: "contract")
    static let author = Author(principal: "agent-1", role: .agent)

    static func set(_ replica: ReplicaID, seq: UInt64, _ element: String) -> ChangeSet {
        ChangeSet(
            id: ChangeSetID(replica: replica, seq: seq), author: author, schemaVersion: 1,
            changes: [
                RecordChange(
                    key,
                    .add(
                        field: CaseFields.tags, element: element, stamp: Stamp(hlc: HLC(millis: seq), replica: replica))
                )
            ])
    }

    static func fingerprint(_ store: some ReplicaStore) throws -> String {
        try store.read { reader in
            let records = try reader.confirmedKeys().sorted().map {
                CanonicalJSON.string(try reader.confirmedRecord($0)!.value)
            }
            let outbox = try reader.outbox().map { "\($0.id):\($0.state):\(CanonicalJSON.string($0.changeSet.value))" }
            let touching = try reader.outbox(touching: key).map(\.id.description)
            let rejected = try reader.rejected().map { "\($0.changeSet.id):\($0.error.code)" }
            return "\(try reader.metadata())|\(records)|\(outbox)|\(touching)|\(rejected)"
        }
    }

    static func check(_ store: some ReplicaStore) throws {
        let replica = try store.read { try $0.metadata().replica }
        // Writes commit; outbox order is by seq, whatever the insertion order.
        try store.write { writer in
            try writer.saveOutboxItem(OutboxItem(changeSet: set(replica, seq: 2, "b")))
            try writer.saveOutboxItem(OutboxItem(changeSet: set(replica, seq: 1, "a")))
            var record = Record(key: key)
            try set(replica, seq: 1, "a").apply(to: &record)
            try writer.saveConfirmed(record)
        }
        #expect(try store.read { try $0.outbox().map(\.id.seq) } == [1, 2])
        #expect(try store.read { try $0.outbox(touching: key).map(\.id.seq) } == [1, 2])
        #expect(try store.read { try $0.outbox(touching: RecordKey(type: .serviceCase, id: "other")) }.isEmpty)

        // A write that throws leaves everything as it was.
        let before = try fingerprint(store)
        #expect(throws: Failure.self) {
            try store.write { writer in
                var metadata = try writer.metadata()
                metadata.nextSeq = 99
                metadata.cursor = Cursor(epoch: "x", seq: 9)
                try writer.setMetadata(metadata)
                try writer.saveOutboxItem(OutboxItem(changeSet: set(replica, seq: 1, "changed"), state: .sent))
                try writer.saveOutboxItem(OutboxItem(changeSet: set(replica, seq: 3, "c")))
                try writer.removeOutboxItem(ChangeSetID(replica: replica, seq: 2))
                try writer.removeAllConfirmed()
                try writer.saveConfirmed(Record(key: RecordKey(type: .serviceCase, id: "new")))
                try writer.addRejected(
                    RejectedChangeSet(changeSet: set(replica, seq: 7, "r"), error: SyncError(.outOfScope, "x")))
                throw Failure()
            }
        }
        #expect(try fingerprint(store) == before)

        // Replacing an item keeps one copy and re-indexes it; removing drops it from the index.
        try store.write { writer in
            try writer.saveOutboxItem(
                OutboxItem(changeSet: set(replica, seq: 2, "b"), state: .acknowledged(Cursor(epoch: "e", seq: 5))))
            try writer.removeOutboxItem(ChangeSetID(replica: replica, seq: 1))
        }
        #expect(try store.read { try $0.outbox().map(\.state) } == [.acknowledged(Cursor(epoch: "e", seq: 5))])
        #expect(try store.read { try $0.outbox(touching: key).map(\.id.seq) } == [2])
    }
}

@Suite struct ReplicaStoreContractTests {
    @Test func inMemoryStoreKeepsTheContract() throws {
        try ReplicaStoreContract.check(InMemoryReplicaStore(replica: .random(), author: ReplicaStoreContract.author))
    }

    @Test func aFailedEditLeavesNoTrace() throws {
        let replica = Replica(
            store: InMemoryReplicaStore(replica: .random(), author: ReplicaStoreContract.author),
            wallClock: FixedWallClock(millis: 1_000))
        try replica.edit { try $0.write("a", to: CaseFields.priority, of: ReplicaStoreContract.key) }
        let before = try ReplicaStoreContract.fingerprint(replica.store)
        #expect(throws: SyncError.self) {
            try replica.edit { editor in
                try editor.write("b", to: CaseFields.priority, of: ReplicaStoreContract.key)  // would coalesce
                try editor.write("x", to: "noSuchField", of: ReplicaStoreContract.key)
            }
        }
        #expect(try ReplicaStoreContract.fingerprint(replica.store) == before)
    }
}

@Suite struct SchemaTests {
    static let replica = ReplicaID("00000000-0000-4000-8000-000000000001")!
    static func set(version: Int = 1, _ changes: [RecordChange]) -> ChangeSet {
        ChangeSet(
            id: ChangeSetID(replica: replica, seq: 1), author: Author(principal: "a", role: .agent),
            schemaVersion: version, changes: changes)
    }
    static let stamp = Stamp(hlc: HLC(millis: 1), replica: replica)
    static let key = RecordKey(type: .serviceCase, id: "c")

    @Test func serverSchemaRefusesUnknownTypesFieldsAndDeclarations() {
        let schema = Schema.current
        #expect(throws: Never.self) {
            try schema.validate(
                Self.set([
                    RecordChange(
                        Self.key,
                        .write(
                            field: "priority", value: "high", base: nil, stamp: Self.stamp, history: true,
                            personal: false))
                ]))
        }
        let refused: [RecordChange] = [
            RecordChange(RecordKey(type: "spaceship", id: "x"), .delete(stamp: Self.stamp)),
            RecordChange(
                Self.key,
                .write(field: "x-future", value: 1, base: nil, stamp: Self.stamp, history: false, personal: false)),
            RecordChange(
                Self.key,
                .write(field: "priority", value: "high", base: nil, stamp: Self.stamp, history: false, personal: false)),
            RecordChange(
                Self.key,
                .write(field: "subject", value: "s", base: nil, stamp: Self.stamp, history: false, personal: false)),
            RecordChange(Self.key, .add(field: "priority", element: "x", stamp: Self.stamp)),
        ]
        for change in refused {
            do {
                try schema.validate(Self.set([change]))
                Issue.record("accepted \(change)")
            } catch {
                #expect(error.code == .unknownField)
            }
        }
    }

    @Test func upgradeStepsRunInOrderAndVersionsAreChecked() throws {
        let rename = UpgradeStep(from: 1) { set in
            var upgraded = set
            upgraded.changes = set.changes.map { change in
                guard case .write("severity", let value, let base, let stamp, let history, let personal) = change.change
                else { return change }
                return RecordChange(
                    change.key,
                    .write(
                        field: "priority", value: value, base: base, stamp: stamp, history: history, personal: personal)
                )
            }
            return upgraded
        }
        let upgrader = Upgrader(minimumVersion: 1, currentVersion: 2, steps: [rename])
        let old = Self.set(
            version: 1,
            [
                RecordChange(
                    Self.key,
                    .write(
                        field: "severity", value: "high", base: nil, stamp: Self.stamp, history: true, personal: false))
            ])
        let upgraded = try upgrader.upgrade(old)
        #expect(upgraded.schemaVersion == 2)
        #expect(upgraded.changes.first?.change.field == "priority")
        do { _ = try upgrader.upgrade(Self.set(version: 3, [])) } catch {
            #expect(error.code == .unsupportedVersion && error.isRetryable)
        }
        do { _ = try upgrader.upgrade(Self.set(version: 0, [])) } catch {
            #expect(error.code == .upgradeRequired && !error.isRetryable)
        }
        let gap = Upgrader(minimumVersion: 1, currentVersion: 3, steps: [rename])
        do { _ = try gap.upgrade(old) } catch { #expect(error.code == .upgradeRequired) }
    }
}
