/// A local replica: the logic every store shares, on top of a ``ReplicaStore``.
///
/// What the user sees is the confirmed state merged with the outbox, so a final rejection, which
/// removes a set from the outbox, never leaves the replica diverged.
public struct Replica<Store: ReplicaStore>: Sendable {
    public let store: Store
    public let wallClock: any WallClock
    public let schema: Schema
    /// How long delivered sets are kept in case the server is restored from a backup, in
    /// milliseconds (the server's retention window, 30 days by default).
    public let retentionMillis: UInt64

    public init(
        store: Store, wallClock: any WallClock = SystemWallClock(), schema: Schema = .current,
        retentionMillis: UInt64 = 30 * 24 * 3_600_000
    ) {
        self.store = store
        self.wallClock = wallClock
        self.schema = schema
        self.retentionMillis = retentionMillis
    }

    // MARK: Reading

    /// The record as the user sees it: confirmed state with every outbox set applied, or `nil`.
    public func visibleRecord(_ key: RecordKey) throws -> Record? {
        try store.read { reader in try Self.visible(key, in: reader) }
    }

    /// Every visible record of a type, sorted by id, deleted ones left out.
    public func visibleRecords(of type: RecordType) throws -> [Record] {
        try store.read { reader in
            try Self.visibleKeys(of: type, in: reader).compactMap { key in try Self.visible(key, in: reader) }
                .filter { !$0.isDeleted }
        }
    }

    /// The keys of every record of a type the replica holds or is changing, sorted, without
    /// decoding the records (deleted ones included).
    public func visibleKeys(of type: RecordType) throws -> [RecordKey] {
        try store.read { reader in try Self.visibleKeys(of: type, in: reader) }
    }

    static func visibleKeys(of type: RecordType, in reader: any ReplicaReader) throws -> [RecordKey] {
        var keys = Set(try reader.confirmedKeys().filter { $0.type == type })
        for item in try reader.outbox() where !item.isDelivered {
            for change in item.changeSet.changes where change.key.type == type { keys.insert(change.key) }
        }
        return keys.sorted()
    }

    static func visible(_ key: RecordKey, in reader: any ReplicaReader) throws -> Record? {
        var record = try reader.confirmedRecord(key)
        for item in try reader.outbox(touching: key) where !item.isDelivered {
            var current = record ?? Record(key: key)
            try item.changeSet.apply(to: &current)
            record = current
        }
        return record
    }

    public func metadata() throws -> ReplicaMetadata { try store.read { try $0.metadata() } }
    /// The sets not yet delivered back by a pull: what the user's changes are waiting on.
    public func outbox() throws -> [OutboxItem] { try store.read { try $0.outbox().filter { !$0.isDelivered } } }

    /// Delivered sets kept for the retention window, in case the server is restored.
    public func retainedSets() throws -> [OutboxItem] { try store.read { try $0.outbox().filter(\.isDelivered) } }
    public func rejected() throws -> [RejectedChangeSet] { try store.read { try $0.rejected() } }

    // MARK: Local edits

    /// Makes one local change set in one transaction: `body` edits through an ``Editor``; the set
    /// goes into the outbox and the visible state follows at once.
    ///
    /// Consecutive writes of one field are coalesced: when the newest outbox write of that field
    /// sits in a set never sent, it is dropped and the new write carries its base.
    /// - Returns: the new set, or `nil` when the edit made no change.
    @discardableResult
    public func edit(_ body: (inout Editor) throws -> Void) throws -> ChangeSet? {
        try store.write { writer in
            var metadata = try writer.metadata()
            var editor = Editor(
                author: metadata.author, replica: metadata.replica, schema: schema, wallClock: wallClock,
                clock: metadata.clock, visible: { key in try Self.visible(key, in: writer) })
            try body(&editor)
            guard !editor.changes.isEmpty else { return nil }
            let changes = try Self.coalesce(editor.changes, into: writer)
            metadata.clock = editor.clock
            let set = ChangeSet(
                id: ChangeSetID(replica: metadata.replica, seq: metadata.nextSeq), author: metadata.author,
                schemaVersion: schema.version, changes: changes)
            metadata.nextSeq += 1
            try writer.saveOutboxItem(OutboxItem(changeSet: set))
            try writer.setMetadata(metadata)
            return set
        }
    }

    static func coalesce(_ changes: [RecordChange], into writer: any ReplicaWriter) throws -> [RecordChange] {
        var result = changes
        var edited: [ChangeSetID: OutboxItem] = [:]
        for index in result.indices {
            guard case .write(let field, let value, _, let stamp, let history, let personal) = result[index].change
            else {
                continue
            }
            let key = result[index].key
            // The newest outbox write of this field, if any, looking at this edit's earlier
            // coalescing too.
            let candidates = try writer.outbox(touching: key).map { edited[$0.id] ?? $0 }
            var found: (item: OutboxItem, change: Int, base: Stamp?)?
            search: for item in candidates.reversed() {
                for changeIndex in item.changeSet.changes.indices.reversed() {
                    let change = item.changeSet.changes[changeIndex]
                    if change.key == key, case .write(field, _, let base, _, _, _) = change.change {
                        found = (item, changeIndex, base)
                        break search
                    }
                }
            }
            guard let found, found.item.state == .pending else { continue }
            var item = found.item
            item.changeSet.changes.remove(at: found.change)
            edited[item.id] = item
            result[index] = RecordChange(
                key,
                .write(field: field, value: value, base: found.base, stamp: stamp, history: history, personal: personal)
            )
        }
        for item in edited.values {
            if item.changeSet.changes.isEmpty {
                try writer.removeOutboxItem(item.id)
            } else {
                try writer.saveOutboxItem(item)
            }
        }
        return result
    }

    // MARK: Push

    /// The oldest outbox sets not yet acknowledged, skipping `excluded`, marked sent.
    public func nextPushBatch(limit: Int, excluding excluded: Set<ChangeSetID> = []) throws -> [ChangeSet] {
        try store.write { writer in
            var batch: [ChangeSet] = []
            for var item in try writer.outbox() where !item.isAcknowledged && !excluded.contains(item.id) {
                guard batch.count < limit else { break }
                batch.append(item.changeSet)
                if item.state == .pending {
                    item.state = .sent
                    try writer.saveOutboxItem(item)
                }
            }
            return batch
        }
    }

    /// Records the server's outcomes in one transaction.
    ///
    /// Accepted and duplicate sets are acknowledged (they leave the outbox once a pull passes them);
    /// final rejections leave the outbox for the rejected list; retryable ones stay, and after
    /// `clockSkew` the set and every later unacknowledged set are stamped again.
    public func applyPushResponse(_ response: PushResponse) throws -> PushSummary {
        try store.write { writer in
            var summary = PushSummary()
            var metadata = try writer.metadata()
            let answered = Set(response.outcomes.map(\.id))
            var items: [ChangeSetID: OutboxItem] = [:]
            for item in try writer.outbox() where answered.contains(item.id) { items[item.id] = item }
            var skewed: [ChangeSetID] = []
            // Acceptances and final rejections first, so that a restamp below never touches a set
            // the server accepted in the same answer.
            for outcome in response.outcomes {
                guard let item = items[outcome.id] else { continue }
                switch outcome.status {
                case .accepted, .duplicate:
                    guard let position = outcome.position else {
                        throw SyncError(.malformed, "the server accepted \(outcome.id) without a log position")
                    }
                    try writer.saveOutboxItem(OutboxItem(changeSet: item.changeSet, state: .acknowledged(position)))
                    summary.accepted.append(outcome.id)
                case .rejected:
                    let error = outcome.error ?? SyncError(.malformed, "rejected without a reason")
                    let rejected = RejectedChangeSet(changeSet: item.changeSet, error: error)
                    if error.isRetryable {
                        if error.code == .clockSkew { skewed.append(outcome.id) }
                        summary.retrying.append(rejected)
                    } else {
                        try writer.removeOutboxItem(outcome.id)
                        try writer.addRejected(rejected)
                        summary.rejected.append(rejected)
                    }
                }
            }
            if let first = skewed.min(by: { $0.seq < $1.seq }) {
                try restamp(from: first, metadata: &metadata, writer: writer)
            }
            try writer.setMetadata(metadata)
            return summary
        }
    }

    /// Gives fresh stamps to the set `id` and to every later unacknowledged set, and rewrites the
    /// references (bases, observed tags) every outbox set holds to the old stamps.
    func restamp(from id: ChangeSetID, metadata: inout ReplicaMetadata, writer: any ReplicaWriter) throws {
        let outbox = try writer.outbox()
        guard let start = outbox.firstIndex(where: { $0.id == id }) else { return }
        var mapping: [Stamp: Stamp] = [:]
        let now = wallClock.nowMillis()
        for item in outbox[start...] where !item.isAcknowledged {
            for change in item.changeSet.changes {
                mapping[change.change.stamp] = Stamp(
                    hlc: metadata.clock.tick(wallMillis: now), replica: metadata.replica)
            }
        }
        for item in outbox[start...] where !item.isAcknowledged {
            let state: OutboxItem.State = item.id == id ? .sent : item.state
            try writer.saveOutboxItem(
                OutboxItem(changeSet: item.changeSet.restamped { mapping[$0] ?? $0 }, state: state))
        }
    }

    // MARK: Pull

    /// Applies a pull answer in one transaction: merges the events into confirmed state, drops
    /// acknowledged sets the cursor passed, advances the cursor and the clock.
    public func applyPullResponse(_ response: PullResponse) throws -> PullSummary {
        try store.write { writer in try apply(response, writer: writer) }
    }

    /// Applies consecutive pull answers (each asked for with the cursor and token the one before
    /// left) in one transaction, one after the other, exactly as ``applyPullResponse(_:)`` would
    /// one by one: a long first sync then commits (and writes the replica's index pages) once per
    /// few pages instead of once per page.
    public func applyPullResponses(_ responses: [PullResponse]) throws -> [PullSummary] {
        try store.write { writer in try responses.map { try apply($0, writer: writer) } }
    }

    func apply(_ response: PullResponse, writer: any ReplicaWriter) throws -> PullSummary {
        var metadata = try writer.metadata()
        var summary = PullSummary()
        let largest: Stamp?
        switch response {
        case .page(let page):
            for event in page.events {
                switch event {
                case .changeSet(let set):
                    for key in set.keys {
                        var record = try writer.confirmedRecord(key) ?? Record(key: key)
                        try set.apply(to: &record)
                        try writer.saveConfirmed(record)
                    }
                    summary.changeSets += 1
                case .enter(let record):
                    let merged = try writer.confirmedRecord(record.key)?.merging(record) ?? record
                    try writer.saveConfirmed(merged)
                    summary.entered.append(record.key)
                case .leave(let key):
                    try writer.removeConfirmed(key)
                    summary.left.append(key)
                    for item in try writer.outbox(touching: key) {
                        try writer.removeOutboxItem(item.id)
                        guard !item.isAcknowledged else { continue }
                        let rejected = RejectedChangeSet(
                            changeSet: item.changeSet,
                            error: SyncError(
                                .leftScope, "\(key) left this replica's scope before the change was accepted"))
                        try writer.addRejected(rejected)
                        summary.rejected.append(rejected)
                    }
                }
            }
            largest = page.events.compactMap(\.largestStamp).max()
            metadata.cursor = page.cursor
            metadata.snapshot = nil
            summary.hasMore = page.hasMore
        case .reset(let snapshot) where snapshot.continues:
            // A later page of a paged snapshot: merge (a record changed meanwhile comes again).
            for record in snapshot.records {
                try writer.saveConfirmed(try writer.confirmedRecord(record.key)?.merging(record) ?? record)
            }
            for (image, key) in try Self.inKeyOrder(snapshot.images) {
                guard try !writer.insertConfirmed(image, key: key) else { continue }
                if let held = try writer.confirmedRecord(key) {
                    try writer.saveConfirmed(held.merging(try Self.record(of: image)))
                }
            }
            largest = try Self.largestStamp(of: snapshot)
            metadata.cursor = snapshot.cursor
            metadata.snapshot = snapshot.more
            summary.snapshotRecords = snapshot.count
            summary.hasMore = snapshot.more != nil
        case .reset(let snapshot):
            try writer.removeAllConfirmed()
            for record in snapshot.records { try writer.saveConfirmed(record) }
            for (image, key) in try Self.inKeyOrder(snapshot.images) { try writer.saveConfirmed(image, key: key) }
            for var item in try writer.outbox() {
                guard let position = item.position, position.epoch != snapshot.cursor.epoch else { continue }
                // Accepted by a server state that was replaced (a restore may have lost it):
                // send again; the server answers with its stored outcome if it has the set,
                // and accepts it if not.
                item.state = .sent
                try writer.saveOutboxItem(item)
            }
            largest = try Self.largestStamp(of: snapshot)
            metadata.cursor = snapshot.cursor
            metadata.snapshot = snapshot.more
            summary.reset = snapshot.reason
            summary.snapshotRecords = snapshot.count
            summary.hasMore = snapshot.more != nil
        }
        // While a snapshot is still paging, a record at or below its cursor may not have arrived
        // yet: the sets that changed it stay applied to what the user sees until it has.
        if let cursor = metadata.cursor, metadata.snapshot == nil {
            let horizon = wallClock.nowMillis() &- retentionMillis
            for item in try writer.outbox() {
                switch item.state {
                case .acknowledged(let position) where position.epoch == cursor.epoch && position.seq <= cursor.seq:
                    try writer.saveOutboxItem(OutboxItem(changeSet: item.changeSet, state: .delivered(position)))
                case .delivered where (item.changeSet.largestStamp?.hlc.millis ?? 0) < horizon:
                    try writer.removeOutboxItem(item.id)
                default:
                    break
                }
            }
        }
        if let largest {
            metadata.clock.receive(largest.hlc, wallMillis: wallClock.nowMillis())
        }
        try writer.setMetadata(metadata)
        return summary
    }
}

extension Replica {
    /// An image's record, decoded.
    /// - Throws: ``SyncError`` `unavailable` when it does not decode: the page is not applied.
    static func record(of image: RecordImage) throws -> Record {
        do { return try image.decode() } catch {
            throw SyncError(.unavailable, "a snapshot record does not decode: \(error.message)")
        }
    }

    /// An image's key and largest stamp (checked when the answer was decoded, or now).
    static func checked(_ image: RecordImage) throws -> RecordImage.Checked {
        do { return try image.checking() } catch {
            throw SyncError(.unavailable, "a snapshot record does not decode: \(error.message)")
        }
    }

    /// Images with their keys, sorted by key: a store that keeps records in key order then writes
    /// them in one pass over its index instead of jumping about it.
    static func inKeyOrder(_ images: [RecordImage]) throws -> [(RecordImage, RecordKey)] {
        try images.map { ($0, try checked($0).key) }.sorted { $0.1 < $1.1 }
    }

    /// The largest stamp of a snapshot page's records, decoded or images.
    static func largestStamp(of snapshot: ResetSnapshot) throws -> Stamp? {
        var largest = snapshot.records.compactMap(\.largestStamp).max()
        for image in snapshot.images {
            guard let stamp = try checked(image).largestStamp else { continue }
            largest = max(largest ?? stamp, stamp)
        }
        return largest
    }
}

/// What one push did.
public struct PushSummary: Hashable, Sendable {
    public var accepted: [ChangeSetID] = []
    /// Final rejections, now in the rejected list.
    public var rejected: [RejectedChangeSet] = []
    /// Retryable rejections, still in the outbox.
    public var retrying: [RejectedChangeSet] = []
    public init() {}
}

/// What one pull did.
public struct PullSummary: Hashable, Sendable {
    public var changeSets = 0
    public var entered: [RecordKey] = []
    public var left: [RecordKey] = []
    /// Outbox sets that lost their scope.
    public var rejected: [RejectedChangeSet] = []
    /// The reason of a reset, if the server sent one.
    public var reset: String?
    /// Records a reset's snapshot delivered whole.
    public var snapshotRecords = 0
    public var hasMore = false
    public init() {}
}
