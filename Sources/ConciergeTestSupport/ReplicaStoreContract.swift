import ConciergeCore

/// The contract every ``ReplicaStore`` keeps, as one check the tests of each store run: the core's
/// in-memory store and `ConciergeStore`'s replica file.
public enum ReplicaStoreContract {
    /// A broken promise, with what was expected and what the store did.
    public struct Violation: Error, CustomStringConvertible {
        public let description: String
    }

    struct Abort: Error {}

    public static let key = RecordKey(type: .serviceCase, id: "contract")
    public static let author = Author(principal: "agent-1", role: .agent)

    public static func set(_ replica: ReplicaID, seq: UInt64, _ element: String) -> ChangeSet {
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

    /// Every confirmed record of a store as canonical JSON, sorted by key: what "byte for byte"
    /// compares.
    public static func canonicalState(_ store: some ReplicaStore) throws -> [String] {
        try store.read { reader in try canonicalState(reader) }
    }

    static func canonicalState(_ reader: any ReplicaReader) throws -> [String] {
        try reader.confirmedKeys().sorted().map { key in
            guard let record = try reader.confirmedRecord(key) else {
                throw Violation(description: "\(key) is listed but cannot be read")
            }
            return CanonicalJSON.string(record.value)
        }
    }

    /// Everything the store holds, as one comparable string.
    public static func fingerprint(_ store: some ReplicaStore) throws -> String {
        try store.read { reader in
            let records = try canonicalState(reader)
            let outbox = try reader.outbox().map { "\($0.id):\($0.state):\(CanonicalJSON.string($0.changeSet.value))" }
            let touching = try reader.outbox(touching: key).map(\.id.description)
            let rejected = try reader.rejected().map { "\($0.changeSet.id):\($0.error.code):\($0.error.message)" }
            return "\(try reader.metadata())|\(records)|\(outbox)|\(touching)|\(rejected)"
        }
    }

    static func expect<T: Equatable>(_ actual: T, _ expected: T, _ what: String) throws {
        guard actual == expected else {
            throw Violation(description: "\(what): expected \(expected), the store gave \(actual)")
        }
    }

    /// Runs the contract against a fresh store.
    /// - Throws: ``Violation`` naming the first broken promise.
    public static func check(_ store: some ReplicaStore) throws {
        let replica = try store.read { try $0.metadata().replica }
        // Writes commit; outbox order is by seq, whatever the insertion order.
        try store.write { writer in
            try writer.saveOutboxItem(OutboxItem(changeSet: set(replica, seq: 2, "b")))
            try writer.saveOutboxItem(OutboxItem(changeSet: set(replica, seq: 1, "a")))
            var record = Record(key: key)
            try set(replica, seq: 1, "a").apply(to: &record)
            try writer.saveConfirmed(record)
        }
        try expect(try store.read { try $0.outbox().map(\.id.seq) }, [1, 2], "outbox order")
        try expect(try store.read { try $0.outbox(touching: key).map(\.id.seq) }, [1, 2], "outbox touching a key")
        try expect(
            try store.read { try $0.outbox(touching: RecordKey(type: .serviceCase, id: "other")).count }, 0,
            "outbox touching an untouched key")
        var record = Record(key: key)
        try set(replica, seq: 1, "a").apply(to: &record)
        try expect(try store.read { try $0.confirmedRecord(key) }, Optional(record), "confirmed record round trip")
        // A record saved as the image it arrived in reads back as the record.
        var imaged = Record(key: RecordKey(type: .serviceCase, id: "imaged"))
        try set(replica, seq: 9, "i").apply(to: &imaged)
        let image = try RecordImage(checking: imaged.binary)
        try store.write { writer in try writer.saveConfirmed(image, key: imaged.key) }
        try expect(
            try store.read { try $0.confirmedRecord(imaged.key) }, Optional(imaged), "confirmed image round trip")
        try store.write { writer in try writer.removeConfirmed(imaged.key) }

        // Metadata round-trips, the clock and cursor included.
        try store.write { writer in
            var metadata = try writer.metadata()
            metadata.cursor = Cursor(epoch: "epoch-1", seq: 41)
            metadata.clock = HybridLogicalClock(latest: HLC(millis: 1_795_000_000_000, counter: 7))
            metadata.nextSeq = 3
            metadata.snapshot = "next-page"
            try writer.setMetadata(metadata)
        }
        let metadata = try store.read { try $0.metadata() }
        try expect(metadata.cursor, Cursor(epoch: "epoch-1", seq: 41), "cursor round trip")
        try expect(metadata.clock.latest, HLC(millis: 1_795_000_000_000, counter: 7), "clock round trip")
        try expect(metadata.nextSeq, 3, "next seq round trip")
        try expect(metadata.snapshot, "next-page", "snapshot token round trip")

        // A write that throws leaves everything as it was.
        let before = try fingerprint(store)
        do {
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
                throw Abort()
            }
            throw Violation(description: "a write whose body threw reported success")
        } catch is Abort {}
        try expect(try fingerprint(store), before, "state after a rolled-back write")

        // Replacing an item keeps one copy and re-indexes it; removing drops it from the index;
        // removing with another replica's id removes nothing.
        try store.write { writer in
            try writer.saveOutboxItem(
                OutboxItem(changeSet: set(replica, seq: 2, "b"), state: .acknowledged(Cursor(epoch: "e", seq: 5))))
            try writer.removeOutboxItem(ChangeSetID(replica: replica, seq: 1))
            try writer.removeOutboxItem(ChangeSetID(replica: ReplicaID(high: 1, low: 1), seq: 2))
        }
        try expect(
            try store.read { try $0.outbox().map(\.state) }, [.acknowledged(Cursor(epoch: "e", seq: 5))],
            "outbox after replace and remove")
        try expect(try store.read { try $0.outbox(touching: key).map(\.id.seq) }, [2], "index after remove")

        // A replaced set's content and keys follow the new version.
        let otherKey = RecordKey(type: .serviceCase, id: "moved")
        var moved = set(replica, seq: 2, "b")
        moved.changes = [RecordChange(otherKey, moved.changes[0].change)]
        try store.write { try $0.saveOutboxItem(OutboxItem(changeSet: moved, state: .sent)) }
        try expect(try store.read { try $0.outbox(touching: key).count }, 0, "old key after content replace")
        try expect(try store.read { try $0.outbox(touching: otherKey).map(\.changeSet) }, [moved], "new key")

        // Rejected sets keep their order, code and message.
        try store.write { writer in
            try writer.addRejected(
                RejectedChangeSet(changeSet: set(replica, seq: 8, "x"), error: SyncError(.forbiddenField, "no")))
            try writer.addRejected(
                RejectedChangeSet(changeSet: set(replica, seq: 9, "y"), error: SyncError(.init("fromTheFuture"), "?")))
        }
        try expect(
            try store.read { try $0.rejected().map { "\($0.changeSet.id.seq):\($0.error)" } },
            ["8:forbiddenField: no", "9:fromTheFuture: ?"], "rejected sets")

        // Removing confirmed records.
        try store.write { writer in
            try writer.saveConfirmed(Record(key: otherKey))
            try writer.removeConfirmed(key)
        }
        try expect(try store.read { try $0.confirmedKeys() }, [otherKey], "confirmed keys after remove")
        try store.write { try $0.removeAllConfirmed() }
        try expect(try store.read { try $0.confirmedKeys() }, [], "confirmed keys after remove all")
    }
}
