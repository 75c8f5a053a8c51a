/// A replicated record: a type, an id, fields of declared kinds, and the deletion and redaction
/// markers.
///
/// **Rule**: merge is commutative, associative and idempotent, and every derived value is a pure
/// function of merged state. Applying a change is merging the one-change state it describes.
public struct Record: Hashable, Sendable {
    public let key: RecordKey
    public private(set) var fields: [String: Field]
    /// The largest deletion stamp seen. Nothing deleted comes back; fields keep merging, no view
    /// shows them.
    public private(set) var deleted: Stamp?
    /// The largest redaction stamp seen. Once set, personal values are null, and stay null for
    /// writes that arrive later.
    public private(set) var redacted: Stamp?

    public init(key: RecordKey, fields: [String: Field] = [:], deleted: Stamp? = nil, redacted: Stamp? = nil) {
        self.key = key
        self.fields = fields
        self.deleted = deleted
        self.redacted = redacted
        if redacted != nil { blankPersonal() }
    }

    public init(type: RecordType, id: RecordID) {
        self.init(key: RecordKey(type: type, id: id))
    }

    public var type: RecordType { key.type }
    public var id: RecordID { key.id }
    public var isDeleted: Bool { deleted != nil }
    public var isRedacted: Bool { redacted != nil }

    // MARK: Merge

    /// Merges another state of the same record. On error, `self` is unchanged.
    public mutating func merge(_ other: Record) throws(MergeError) {
        guard key == other.key else {
            throw MergeError(.recordMismatch, "merging \(other.key) into \(key)")
        }
        var result = self
        var incoming = other
        result.deleted = Self.larger(deleted, other.deleted)
        result.redacted = Self.larger(redacted, other.redacted)
        if result.redacted != nil {
            result.blankPersonal()
            incoming.blankPersonal()
        }
        for (name, field) in incoming.fields {
            if result.fields[name] != nil {
                try result.fields[name]!.merge(field)
            } else {
                result.fields[name] = field
            }
        }
        self = result
    }

    /// The merge of two states.
    public func merging(_ other: Record) throws(MergeError) -> Record {
        var copy = self
        try copy.merge(other)
        return copy
    }

    /// Applies one change made by `author`. On error, `self` is unchanged.
    public mutating func apply(_ change: Change, by author: Author) throws(MergeError) {
        switch change {
        case .write(let name, let value, let base, let stamp, let history, let personal):
            let write = RegisterWrite(stamp: stamp, base: base, value: value, author: author)
            guard let index = fields.index(forKey: name) else {
                var field = Field(personal: personal, state: .register(RegisterState(write, keepsHistory: history)))
                if redacted != nil { field.blankPersonal() }
                fields[name] = field
                return
            }
            try fields.values[index].merge(
                write, name: name, history: history, personal: personal, blank: redacted != nil)
        case .add(let name, let element, let stamp):
            if fields[name] == nil { fields[name] = Field(state: .set(ORSetState())) }
            try fields[name]!.withSet { (set) throws(MergeError) in try set.add(element, tag: stamp) }
        case .remove(let name, _, let observed, _):
            if fields[name] == nil { fields[name] = Field(state: .set(ORSetState())) }
            try fields[name]!.withSet { set in set.remove(observed: observed) }
        case .append(let name, let newEntry):
            var entry = newEntry.entry(by: author)
            if redacted != nil { entry.blank() }
            if fields[name] == nil { fields[name] = Field(state: .log(LogState())) }
            try fields[name]!.withLog { (log) throws(MergeError) in try log.append(entry) }
        case .redactEntry(let name, let id, let stamp):
            if fields[name] == nil { fields[name] = Field(state: .log(LogState())) }
            try fields[name]!.withLog { log in log.redact(id, stamp: stamp) }
        case .delete(let stamp):
            deleted = Self.larger(deleted, stamp)
        case .redact(let stamp):
            let wasRedacted = redacted != nil
            redacted = Self.larger(redacted, stamp)
            if !wasRedacted { blankPersonal() }
        }
    }

    mutating func blankPersonal() {
        for name in Array(fields.keys) { fields[name]!.blankPersonal() }
    }

    static func larger(_ lhs: Stamp?, _ rhs: Stamp?) -> Stamp? {
        switch (lhs, rhs) {
        case (nil, let stamp), (let stamp, nil): stamp
        case (let l?, let r?): max(l, r)
        }
    }

    // MARK: Reading

    /// The winning value of a register field, `nil` when the field was never written.
    public func value(_ field: String) -> Value? {
        register(field)?.latest.value
    }

    /// The register state of a field, `nil` when absent or of another kind.
    public func register(_ field: String) -> RegisterState? {
        if case .register(let register)? = fields[field]?.state { return register }
        return nil
    }

    /// The set state of a field, `nil` when absent or of another kind.
    public func set(_ field: String) -> ORSetState? {
        if case .set(let set)? = fields[field]?.state { return set }
        return nil
    }

    /// The log state of a field, `nil` when absent or of another kind.
    public func log(_ field: String) -> LogState? {
        if case .log(let log)? = fields[field]?.state { return log }
        return nil
    }

    /// Every stamp the record's state holds; the receive rule of the clock runs on the largest.
    public var largestStamp: Stamp? {
        var largest = Self.larger(deleted, redacted)
        for field in fields.values {
            switch field.state {
            case .register(let register): largest = Self.larger(largest, register.latest.stamp)
            case .set(let set):
                largest = Self.larger(largest, set.adds.keys.max())
                largest = Self.larger(largest, set.removed.max())
            case .log(let log):
                largest = Self.larger(largest, log.entries.values.map(\.stamp).max())
                largest = Self.larger(largest, log.redactions.values.max())
            }
        }
        return largest
    }
}
