/// One entry of an append-only log, such as a case's timeline.
///
/// The payload is split by what erasure does to it: `payload` holds the structural members (status
/// targets, appointment ids and slots, channel), which stay; `personal` holds the members erasure
/// sets to null (message bodies, names, contact points). A replica can so blank entries of kinds it
/// does not know.
public struct LogEntry: Hashable, Sendable {
    public var id: EntryID
    public var stamp: Stamp
    public var kind: String
    public var author: Author
    public var payload: [String: Value]
    public var personal: [String: Value]

    public init(
        id: EntryID, stamp: Stamp, kind: String, author: Author,
        payload: [String: Value] = [:], personal: [String: Value] = [:]
    ) {
        self.id = id
        self.stamp = stamp
        self.kind = kind
        self.author = author
        self.payload = payload
        self.personal = personal
    }

    /// Whether this entry's personal members have been blanked.
    public var isBlanked: Bool { personal.values.allSatisfy(\.isNull) }

    mutating func blank() {
        for key in personal.keys { personal[key] = .null }
    }

    /// Timeline order: by stamp, then by entry id.
    public static func precedes(_ lhs: LogEntry, _ rhs: LogEntry) -> Bool {
        lhs.stamp != rhs.stamp ? lhs.stamp < rhs.stamp : lhs.id < rhs.id
    }
}

/// An append-only log: entries unioned by id, ordered by `(stamp, id)`.
///
/// **Rule**: no entry any replica wrote is ever lost; erasure blanks payloads, never ids. An id seen
/// twice with different stamps keeps the copy with the smaller stamp.
public struct LogState: Hashable, Sendable {
    public private(set) var entries: [EntryID: LogEntry]
    /// Entry-level erasure markers: entry id to the redaction's stamp (the largest seen).
    public private(set) var redactions: [EntryID: Stamp]

    public init(entries: [EntryID: LogEntry] = [:], redactions: [EntryID: Stamp] = [:]) {
        self.entries = entries
        self.redactions = redactions
    }

    /// Appends (or re-delivers) an entry.
    /// - Throws: `stampReused` when the same id and stamp arrive with other content.
    public mutating func append(_ entry: LogEntry) throws(MergeError) {
        var entry = entry
        if redactions[entry.id] != nil { entry.blank() }
        if let existing = entries[entry.id] {
            if existing.stamp < entry.stamp { return }
            if existing.stamp == entry.stamp {
                guard existing == entry else {
                    throw MergeError(
                        .stampReused, "entry \(entry.id) arrived twice with stamp \(entry.stamp) and other content")
                }
                return
            }
        }
        entries[entry.id] = entry
    }

    /// Marks an entry erased; its personal members become null now and whenever it arrives later.
    public mutating func redact(_ id: EntryID, stamp: Stamp) {
        if let existing = redactions[id], stamp < existing { return }
        redactions[id] = stamp
        entries[id]?.blank()
    }

    /// Merges another state of the same log.
    public mutating func merge(_ other: LogState) throws(MergeError) {
        var copy = self
        for (id, stamp) in other.redactions { copy.redact(id, stamp: stamp) }
        for entry in other.entries.values { try copy.append(entry) }
        self = copy
    }

    mutating func blankAll() {
        for id in Array(entries.keys) { entries[id]!.blank() }
    }

    /// The entries in timeline order.
    public var ordered: [LogEntry] {
        entries.values.sorted(by: LogEntry.precedes)
    }
}
