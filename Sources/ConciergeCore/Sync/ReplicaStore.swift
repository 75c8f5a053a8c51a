/// Who a replica is and where its sync stands.
public struct ReplicaMetadata: Hashable, Sendable {
    public var replica: ReplicaID
    /// The principal the replica's device is enrolled for.
    public var author: Author
    /// The position of the last pull, `nil` before the first.
    public var cursor: Cursor?
    public var clock: HybridLogicalClock
    /// The sequence number the next change set gets.
    public var nextSeq: UInt64
    /// The token of a paged reset snapshot's next page, while one is under way.
    public var snapshot: String?

    public init(
        replica: ReplicaID, author: Author, cursor: Cursor? = nil, clock: HybridLogicalClock = .init(),
        nextSeq: UInt64 = 1, snapshot: String? = nil
    ) {
        self.replica = replica
        self.author = author
        self.cursor = cursor
        self.clock = clock
        self.nextSeq = nextSeq
        self.snapshot = snapshot
    }
}

/// A change set in the outbox and how far it got.
public struct OutboxItem: Hashable, Sendable {
    public enum State: Hashable, Sendable {
        /// Never sent; later local writes of the same field may still be coalesced into it.
        case pending
        /// Sent at least once; its content is frozen.
        case sent
        /// Accepted by the server at this log position; delivered once a pull passes it.
        case acknowledged(Cursor)
        /// Accepted, and back in the confirmed state through a pull. No longer applied to what
        /// the user sees, but kept for the retention window: if the server is restored from a
        /// backup older than the set, the replica sends it again after the reset.
        case delivered(Cursor)
    }

    public var changeSet: ChangeSet
    public var state: State

    public init(changeSet: ChangeSet, state: State = .pending) {
        self.changeSet = changeSet
        self.state = state
    }

    public var id: ChangeSetID { changeSet.id }

    /// Accepted by the server (whether or not a pull has delivered it back yet).
    public var isAcknowledged: Bool {
        switch state {
        case .acknowledged, .delivered: true
        case .pending, .sent: false
        }
    }

    /// Delivered back by a pull: part of the confirmed state, kept only in case of a restore.
    public var isDelivered: Bool {
        if case .delivered = state { return true }
        return false
    }

    /// The log position of an accepted set.
    public var position: Cursor? {
        switch state {
        case .acknowledged(let position), .delivered(let position): position
        case .pending, .sent: nil
        }
    }
}

/// A change set the server refused for good (or that lost its scope), kept for the user to see.
public struct RejectedChangeSet: Hashable, Sendable {
    public var changeSet: ChangeSet
    public var error: SyncError

    public init(changeSet: ChangeSet, error: SyncError) {
        self.changeSet = changeSet
        self.error = error
    }
}

/// Reads a replica's persistent state. Implemented by the in-memory store and `ConciergeStore`.
public protocol ReplicaReader {
    func metadata() throws -> ReplicaMetadata
    /// The confirmed state of a record: only what pulls delivered.
    func confirmedRecord(_ key: RecordKey) throws -> Record?
    func confirmedKeys() throws -> [RecordKey]
    /// The outbox, oldest set first.
    func outbox() throws -> [OutboxItem]
    /// The outbox sets that touch `key`, oldest first.
    func outbox(touching key: RecordKey) throws -> [OutboxItem]
    func rejected() throws -> [RejectedChangeSet]
}

extension ReplicaReader {
    public func outbox(touching key: RecordKey) throws -> [OutboxItem] {
        try outbox().filter { $0.changeSet.changes.contains { $0.key == key } }
    }
}

/// Changes a replica's persistent state inside one transaction.
public protocol ReplicaWriter: ReplicaReader {
    func setMetadata(_ metadata: ReplicaMetadata) throws
    func saveConfirmed(_ record: Record) throws
    /// Saves the record of `key` that arrived as `image` (its binary form, checked): a store that
    /// keeps records in the binary form stores the image's bytes as they are.
    func saveConfirmed(_ image: RecordImage, key: RecordKey) throws
    /// Saves the record of `key` that arrived as `image` unless the replica holds that record
    /// already; returns whether it saved it (a held record is merged with the image instead).
    func insertConfirmed(_ image: RecordImage, key: RecordKey) throws -> Bool
    func removeConfirmed(_ key: RecordKey) throws
    func removeAllConfirmed() throws
    /// Inserts the item, or replaces the one with the same id.
    func saveOutboxItem(_ item: OutboxItem) throws
    func removeOutboxItem(_ id: ChangeSetID) throws
    func addRejected(_ rejected: RejectedChangeSet) throws
}

extension ReplicaWriter {
    public func insertConfirmed(_ image: RecordImage, key: RecordKey) throws -> Bool {
        guard try confirmedRecord(key) == nil else { return false }
        try saveConfirmed(image, key: key)
        return true
    }

    public func saveConfirmed(_ image: RecordImage, key: RecordKey) throws {
        do { try saveConfirmed(try image.decode()) } catch let error as CodecError {
            throw SyncError(.unavailable, "a snapshot record does not decode: \(error.message)")
        }
    }
}

/// A replica's persistent state: confirmed records, outbox, rejected sets, cursor and clock.
///
/// Every `write` is one transaction: it commits whole or not at all, so a crash never leaves a
/// half-applied pull or edit.
public protocol ReplicaStore: Sendable {
    func read<T>(_ body: (any ReplicaReader) throws -> T) throws -> T
    func write<T>(_ body: (any ReplicaWriter) throws -> T) throws -> T
}
