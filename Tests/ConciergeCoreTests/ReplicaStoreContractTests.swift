import ConciergeCore
import ConciergeTestSupport
import Testing

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
