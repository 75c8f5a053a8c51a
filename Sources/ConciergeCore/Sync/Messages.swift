/// A position in the server's change log: the server's epoch and a sequence number.
///
/// The epoch changes when the server's database is restored from a backup or replaced, so every
/// replica resets instead of missing changes.
public struct Cursor: Hashable, Sendable, CustomStringConvertible {
    public var epoch: String
    public var seq: UInt64

    public init(epoch: String, seq: UInt64) {
        self.epoch = epoch
        self.seq = seq
    }

    /// `epoch:seq`, the form the protocol carries.
    public var description: String { "\(epoch):\(seq)" }

    /// Reads `epoch:seq`; `nil` for anything else.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let epoch = String(text[..<colon])
        let digits = text[text.index(after: colon)...]
        guard !epoch.isEmpty, !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let seq = UInt64(digits)
        else { return nil }
        self.init(epoch: epoch, seq: seq)
    }
}

/// `push`: change sets from the outbox, oldest first.
public struct PushRequest: Hashable, Sendable {
    public var changeSets: [ChangeSet]
    public init(changeSets: [ChangeSet]) { self.changeSets = changeSets }
}

/// The server's answer for one pushed change set.
public struct PushOutcome: Hashable, Sendable {
    public enum Status: String, Hashable, Sendable {
        /// Accepted now, appended to the change log at `position`.
        case accepted
        /// Accepted earlier: the stored outcome of a replay. Counts as success.
        case duplicate
        /// Refused with `error`; retryable or final by its code.
        case rejected
    }

    public var id: ChangeSetID
    public var status: Status
    /// Where an accepted set sits in the change log.
    public var position: Cursor?
    public var error: SyncError?

    public static func accepted(_ id: ChangeSetID, at position: Cursor) -> PushOutcome {
        PushOutcome(id: id, status: .accepted, position: position, error: nil)
    }

    public static func duplicate(_ id: ChangeSetID, at position: Cursor) -> PushOutcome {
        PushOutcome(id: id, status: .duplicate, position: position, error: nil)
    }

    public static func rejected(_ id: ChangeSetID, _ error: SyncError) -> PushOutcome {
        PushOutcome(id: id, status: .rejected, position: nil, error: error)
    }
}

/// The answer to a push: one outcome per set.
public struct PushResponse: Hashable, Sendable {
    public var outcomes: [PushOutcome]
    /// The server's wall clock, in milliseconds since 1970.
    public var serverMillis: UInt64

    public init(outcomes: [PushOutcome], serverMillis: UInt64) {
        self.outcomes = outcomes
        self.serverMillis = serverMillis
    }
}

/// `pull`: the changes since `cursor` (from the start when `nil`), at most `limit` events; or,
/// while a paged reset snapshot is under way, its next page (`snapshot`, the token the previous
/// page named).
public struct PullRequest: Hashable, Sendable {
    public var cursor: Cursor?
    public var limit: Int
    public var snapshot: String?

    public init(cursor: Cursor?, limit: Int, snapshot: String? = nil) {
        self.cursor = cursor
        self.limit = limit
        self.snapshot = snapshot
    }
}

/// One event of the caller's projection of the change log.
public enum PullEvent: Hashable, Sendable {
    /// An accepted change set, projected for the caller (internal notes left out for customers).
    case changeSet(ChangeSet)
    /// A record entered the caller's scope; carries its whole current projection.
    case enter(Record)
    /// A record left the caller's scope; the replica drops it.
    case leave(RecordKey)

    /// The largest stamp the event carries.
    public var largestStamp: Stamp? {
        switch self {
        case .changeSet(let set): set.largestStamp
        case .enter(let record): record.largestStamp
        case .leave: nil
        }
    }
}

/// A page of the caller's projection. Pages end on change-set boundaries.
public struct PullPage: Hashable, Sendable {
    public var events: [PullEvent]
    /// The position after the last event; the next pull starts here.
    public var cursor: Cursor
    public var hasMore: Bool

    public init(events: [PullEvent], cursor: Cursor, hasMore: Bool) {
        self.events = events
        self.cursor = cursor
        self.hasMore = hasMore
    }
}

/// Everything in the caller's scope at `cursor`: sent instead of a page on the first sync, and when
/// the caller's cursor is older than the compaction horizon or from another server epoch.
///
/// A snapshot comes in pages, newest activity first, so that a first sync is usable after its
/// first page: the first page (`continues == false`) replaces the replica's confirmed state; each
/// later page (asked for with the token `more`) merges into it. A record may come twice (when it
/// changed while the snapshot was paged); merging makes that harmless. Once `more` is `nil`, the
/// replica pulls the log from `cursor`, which replays what changed meanwhile.
///
/// A page's records are `records` and `images` together, in no particular order: the server sends
/// a record as the ``RecordImage`` it keeps ready where it has a current one, and decoded otherwise.
/// A client that does not ask for images gets every record decoded.
public struct ResetSnapshot: Hashable, Sendable {
    public var records: [Record]
    /// Records of the page in the binary form, as the server keeps them.
    public var images: [RecordImage]
    public var cursor: Cursor
    /// Why: `initial`, `compacted` or `epochChanged`.
    public var reason: String
    /// Whether this page continues a snapshot (otherwise it starts one).
    public var continues: Bool
    /// The token for the next page, `nil` on the last.
    public var more: String?

    public init(
        records: [Record], images: [RecordImage] = [], cursor: Cursor, reason: String, continues: Bool = false,
        more: String? = nil
    ) {
        self.records = records
        self.images = images
        self.cursor = cursor
        self.reason = reason
        self.continues = continues
        self.more = more
    }

    /// How many records the page carries, decoded or as images.
    public var count: Int { records.count + images.count }

    /// Every record of the page, images decoded.
    /// - Throws: ``CodecError`` when an image does not decode.
    public func allRecords() throws(CodecError) -> [Record] {
        var all = records
        all.reserveCapacity(count)
        for image in images { all.append(try image.decode()) }
        return all
    }

    /// The page with its images decoded into `records`: for a client that takes no images.
    public func inliningImages() throws(CodecError) -> ResetSnapshot {
        var snapshot = self
        snapshot.records = try allRecords()
        snapshot.images = []
        return snapshot
    }
}

/// The answer to a pull.
public enum PullResponse: Hashable, Sendable {
    case page(PullPage)
    case reset(ResetSnapshot)

    /// The answer with a snapshot's images decoded into records (a page of the log is unchanged).
    public func inliningImages() throws(CodecError) -> PullResponse {
        guard case .reset(let snapshot) = self, !snapshot.images.isEmpty else { return self }
        return .reset(try snapshot.inliningImages())
    }
}

/// How a replica talks to its server. `ConciergeClient` implements it over HTTP; a phone app may
/// plug in its own.
public protocol SyncTransport: Sendable {
    /// Sends change sets; the server answers with one outcome per set.
    /// - Throws: ``SyncError``; retryable codes make the engine back off and try again.
    func push(_ request: PushRequest) async throws -> PushResponse
    /// Fetches the caller's projection since a cursor.
    func pull(_ request: PullRequest) async throws -> PullResponse
}
