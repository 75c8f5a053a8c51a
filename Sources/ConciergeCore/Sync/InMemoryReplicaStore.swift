import Foundation

/// A ``ReplicaStore`` in memory: for tests, the harness, and apps that keep no file.
///
/// A `write` works on a copy of the state and commits it only when its body returns, so a thrown
/// error leaves the store as it was, like a rolled-back SQLite transaction.
public final class InMemoryReplicaStore: ReplicaStore, @unchecked Sendable {
    struct State {
        var metadata: ReplicaMetadata
        var confirmed: [RecordKey: Record] = [:]
        var outbox: [OutboxItem] = []
        var rejected: [RejectedChangeSet] = []
    }

    private let lock = NSLock()
    private var state: State

    /// A fresh replica enrolled as `replica` for `author`.
    public init(replica: ReplicaID, author: Author) {
        self.state = State(metadata: ReplicaMetadata(replica: replica, author: author))
    }

    public func read<T>(_ body: (any ReplicaReader) throws -> T) throws -> T {
        let snapshot = lock.withLock { state }
        return try body(Transaction(state: snapshot))
    }

    public func write<T>(_ body: (any ReplicaWriter) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        let transaction = Transaction(state: state)
        let result = try body(transaction)
        state = transaction.state
        return result
    }

    final class Transaction: ReplicaWriter {
        var state: State

        init(state: State) { self.state = state }

        func metadata() throws -> ReplicaMetadata { state.metadata }
        func confirmedRecord(_ key: RecordKey) throws -> Record? { state.confirmed[key] }
        func confirmedKeys() throws -> [RecordKey] { Array(state.confirmed.keys) }
        func outbox() throws -> [OutboxItem] { state.outbox }
        func rejected() throws -> [RejectedChangeSet] { state.rejected }

        func setMetadata(_ metadata: ReplicaMetadata) throws { state.metadata = metadata }
        func saveConfirmed(_ record: Record) throws { state.confirmed[record.key] = record }
        func removeConfirmed(_ key: RecordKey) throws { state.confirmed[key] = nil }
        func removeAllConfirmed() throws { state.confirmed = [:] }

        func saveOutboxItem(_ item: OutboxItem) throws {
            if let index = state.outbox.firstIndex(where: { $0.id == item.id }) {
                state.outbox[index] = item
            } else {
                state.outbox.append(item)
                state.outbox.sort { $0.id.seq < $1.id.seq }
            }
        }

        func removeOutboxItem(_ id: ChangeSetID) throws { state.outbox.removeAll { $0.id == id } }
        func addRejected(_ rejected: RejectedChangeSet) throws { state.rejected.append(rejected) }
    }
}
