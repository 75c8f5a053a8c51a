import Foundation

/// A ``ReplicaStore`` in memory: for tests, the harness, and apps that keep no file.
///
/// A `write` changes the state in place and keeps an undo journal of everything it touched; when
/// its body throws, the journal puts the state back, like a rolled-back SQLite transaction. Reads
/// see a consistent snapshot.
public final class InMemoryReplicaStore: ReplicaStore, @unchecked Sendable {
    struct State {
        var metadata: ReplicaMetadata
        var confirmed: [RecordKey: Record] = [:]
        /// The outbox by sequence number (a replica's sets all carry its own replica id).
        var outbox: [UInt64: OutboxItem] = [:]
        /// The sequence numbers of the outbox sets touching each record.
        var outboxIndex: [RecordKey: Set<UInt64>] = [:]
        var rejected: [RejectedChangeSet] = []
    }

    private let lock = NSLock()
    fileprivate var state: State

    /// A fresh replica enrolled as `replica` for `author`.
    public init(replica: ReplicaID, author: Author) {
        self.state = State(metadata: ReplicaMetadata(replica: replica, author: author))
    }

    public func read<T>(_ body: (any ReplicaReader) throws -> T) throws -> T {
        let snapshot = lock.withLock { state }
        return try body(Snapshot(state: snapshot))
    }

    public func write<T>(_ body: (any ReplicaWriter) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        let transaction = Transaction(store: self)
        do {
            return try body(transaction)
        } catch {
            transaction.rollBack()
            throw error
        }
    }

    struct Snapshot: ReplicaReader {
        let state: State
        func metadata() throws -> ReplicaMetadata { state.metadata }
        func confirmedRecord(_ key: RecordKey) throws -> Record? { state.confirmed[key] }
        func confirmedKeys() throws -> [RecordKey] { Array(state.confirmed.keys) }
        func outbox() throws -> [OutboxItem] { state.outbox.keys.sorted().map { state.outbox[$0]! } }
        func outbox(touching key: RecordKey) throws -> [OutboxItem] {
            (state.outboxIndex[key] ?? []).sorted().compactMap { state.outbox[$0] }
        }
        func rejected() throws -> [RejectedChangeSet] { state.rejected }
    }

    final class Transaction: ReplicaWriter {
        unowned let store: InMemoryReplicaStore
        // The undo journal: the value before the first change, per item touched.
        var metadataBefore: ReplicaMetadata?
        var confirmedBefore: [RecordKey: Record?] = [:]
        var allConfirmedBefore: [RecordKey: Record]?
        var outboxBefore: [UInt64: OutboxItem?] = [:]
        var rejectedCountBefore: Int?

        init(store: InMemoryReplicaStore) { self.store = store }

        var reader: Snapshot { Snapshot(state: store.state) }
        func metadata() throws -> ReplicaMetadata { store.state.metadata }
        func confirmedRecord(_ key: RecordKey) throws -> Record? { store.state.confirmed[key] }
        func confirmedKeys() throws -> [RecordKey] { Array(store.state.confirmed.keys) }
        func outbox() throws -> [OutboxItem] { try reader.outbox() }
        func outbox(touching key: RecordKey) throws -> [OutboxItem] { try reader.outbox(touching: key) }
        func rejected() throws -> [RejectedChangeSet] { store.state.rejected }

        func setMetadata(_ metadata: ReplicaMetadata) throws {
            if metadataBefore == nil { metadataBefore = store.state.metadata }
            store.state.metadata = metadata
        }

        func saveConfirmed(_ record: Record) throws {
            journalConfirmed(record.key)
            store.state.confirmed[record.key] = record
        }

        func removeConfirmed(_ key: RecordKey) throws {
            journalConfirmed(key)
            store.state.confirmed[key] = nil
        }

        func removeAllConfirmed() throws {
            if allConfirmedBefore == nil && confirmedBefore.isEmpty { allConfirmedBefore = store.state.confirmed }
            for key in store.state.confirmed.keys { journalConfirmed(key) }
            store.state.confirmed = [:]
        }

        func journalConfirmed(_ key: RecordKey) {
            guard allConfirmedBefore == nil, confirmedBefore[key] == nil else { return }
            confirmedBefore[key] = .some(store.state.confirmed[key])
        }

        func saveOutboxItem(_ item: OutboxItem) throws {
            journalOutbox(item.id.seq)
            if let old = store.state.outbox[item.id.seq] { unindex(old) }
            store.state.outbox[item.id.seq] = item
            for key in item.changeSet.keys { store.state.outboxIndex[key, default: []].insert(item.id.seq) }
        }

        func removeOutboxItem(_ id: ChangeSetID) throws {
            guard let old = store.state.outbox[id.seq], old.id == id else { return }
            journalOutbox(id.seq)
            unindex(old)
            store.state.outbox[id.seq] = nil
        }

        func journalOutbox(_ seq: UInt64) {
            if outboxBefore[seq] == nil { outboxBefore[seq] = .some(store.state.outbox[seq]) }
        }

        func unindex(_ item: OutboxItem) {
            for key in item.changeSet.keys { store.state.outboxIndex[key]?.remove(item.id.seq) }
        }

        func addRejected(_ rejected: RejectedChangeSet) throws {
            if rejectedCountBefore == nil { rejectedCountBefore = store.state.rejected.count }
            store.state.rejected.append(rejected)
        }

        func rollBack() {
            if let metadataBefore { store.state.metadata = metadataBefore }
            if let allConfirmedBefore { store.state.confirmed = allConfirmedBefore }
            for (key, record) in confirmedBefore { store.state.confirmed[key] = record }
            for (seq, item) in outboxBefore {
                if let current = store.state.outbox[seq] { unindex(current) }
                store.state.outbox[seq] = item
                if let item { for key in item.changeSet.keys { store.state.outboxIndex[key, default: []].insert(seq) } }
            }
            if let rejectedCountBefore { store.state.rejected.removeSubrange(rejectedCountBefore...) }
        }
    }
}
