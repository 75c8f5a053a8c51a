/// One change to one field or to a record as a whole. Every change carries its own stamp.
public enum Change: Hashable, Sendable {
    /// Writes a register. `history` and `personal` declare the field, so that a replica that does
    /// not know it still merges it correctly.
    case write(field: String, value: Value, base: Stamp?, stamp: Stamp, history: Bool, personal: Bool)
    /// Adds an element to a set, tagged by `stamp`.
    case add(field: String, element: String, stamp: Stamp)
    /// Removes the tags of `element` that the writer had observed.
    case remove(field: String, element: String, observed: [Stamp], stamp: Stamp)
    /// Appends an entry to a log; its author comes from the change set.
    case append(field: String, entry: NewEntry)
    /// Erases the personal members of one log entry.
    case redactEntry(field: String, entry: EntryID, stamp: Stamp)
    /// Deletes the record; there is no undelete.
    case delete(stamp: Stamp)
    /// Erases the record's personal data (right to erasure); redaction wins every merge.
    case redact(stamp: Stamp)

    /// The change's own stamp.
    public var stamp: Stamp {
        switch self {
        case .write(_, _, _, let stamp, _, _), .add(_, _, let stamp), .remove(_, _, _, let stamp),
            .redactEntry(_, _, let stamp), .delete(let stamp), .redact(let stamp):
            stamp
        case .append(_, let entry): entry.stamp
        }
    }

    /// The field the change touches, `nil` for whole-record changes.
    public var field: String? {
        switch self {
        case .write(let field, _, _, _, _, _), .add(let field, _, _), .remove(let field, _, _, _),
            .append(let field, _), .redactEntry(let field, _, _):
            field
        case .delete, .redact: nil
        }
    }

    /// The same change with its stamp (and any stamp it refers to) passed through `map`.
    public func restamped(_ map: (Stamp) -> Stamp) -> Change {
        switch self {
        case .write(let field, let value, let base, let stamp, let history, let personal):
            .write(
                field: field, value: value, base: base.map(map), stamp: map(stamp), history: history, personal: personal
            )
        case .add(let field, let element, let stamp):
            .add(field: field, element: element, stamp: map(stamp))
        case .remove(let field, let element, let observed, let stamp):
            .remove(field: field, element: element, observed: observed.map(map), stamp: map(stamp))
        case .append(let field, var entry):
            {
                entry.stamp = map(entry.stamp); return .append(field: field, entry: entry)
            }()
        case .redactEntry(let field, let entry, let stamp):
            .redactEntry(field: field, entry: entry, stamp: map(stamp))
        case .delete(let stamp): .delete(stamp: map(stamp))
        case .redact(let stamp): .redact(stamp: map(stamp))
        }
    }
}

/// A log entry as a change carries it: everything but the author, which the change set supplies.
public struct NewEntry: Hashable, Sendable {
    public var id: EntryID
    public var stamp: Stamp
    public var kind: String
    public var payload: [String: Value]
    public var personal: [String: Value]

    public init(
        id: EntryID, stamp: Stamp, kind: String, payload: [String: Value] = [:], personal: [String: Value] = [:]
    ) {
        self.id = id
        self.stamp = stamp
        self.kind = kind
        self.payload = payload
        self.personal = personal
    }

    /// The entry as the log stores it, authored by `author`.
    public func entry(by author: Author) -> LogEntry {
        LogEntry(id: id, stamp: stamp, kind: kind, author: author, payload: payload, personal: personal)
    }
}

/// A change addressed to a record.
public struct RecordChange: Hashable, Sendable {
    public var key: RecordKey
    public var change: Change

    public init(_ key: RecordKey, _ change: Change) {
        self.key = key
        self.change = change
    }
}
