// The canonical tree form of records and change sets. docs/encoding.md gives the exact shape.

extension Stamp {
    /// `{"hlc":"<decimal>","replica":"<lower-case uuid>"}`
    public var value: Value {
        .object(["hlc": .string(hlc.description), "replica": .string(replica.description)])
    }

    public init(value: Value) throws(CodecError) {
        let reader = try ObjectReader(value, "stamp")
        guard let hlc = HLC(try reader.string("hlc")) else { throw reader.invalid("hlc", "a decimal string") }
        let text = try reader.string("replica")
        guard let replica = ReplicaID(text), replica.description == text else {
            throw reader.invalid("replica", "a lower-case UUID")
        }
        self.init(hlc: hlc, replica: replica)
    }

    static func optional(_ value: Value?) throws(CodecError) -> Stamp? {
        guard let value, value != .null else { return nil }
        return try Stamp(value: value)
    }

    static func list(_ values: [Value]) throws(CodecError) -> [Stamp] {
        var stamps: [Stamp] = []
        for value in values { stamps.append(try Stamp(value: value)) }
        return stamps
    }
}

extension Optional where Wrapped == Stamp {
    var value: Value { self?.value ?? .null }
}

extension Author {
    /// `{"principal":"...","role":"..."}`
    public var value: Value {
        .object(["principal": .string(principal.rawValue), "role": .string(role.rawValue)])
    }

    public init(value: Value) throws(CodecError) {
        let reader = try ObjectReader(value, "author")
        self.init(principal: PrincipalID(try reader.string("principal")), role: Role(try reader.string("role")))
    }
}

extension RegisterWrite {
    public var tree: Value {
        .object(["stamp": stamp.value, "base": base.value, "value": value, "author": author.value])
    }

    init(tree: Value) throws(CodecError) {
        let reader = try ObjectReader(tree, "write")
        self.init(
            stamp: try Stamp(value: reader.value("stamp")),
            base: try Stamp.optional(reader.optional("base")),
            value: try reader.value("value"),
            author: try Author(value: reader.value("author")))
    }
}

extension LogEntry {
    public var value: Value {
        .object([
            "id": .string(id.rawValue), "stamp": stamp.value, "kind": .string(kind), "author": author.value,
            "payload": .object(payload), "personal": .object(personal),
        ])
    }

    public init(value: Value) throws(CodecError) {
        let reader = try ObjectReader(value, "entry")
        self.init(
            id: EntryID(try reader.string("id")), stamp: try Stamp(value: reader.value("stamp")),
            kind: try reader.string("kind"), author: try Author(value: reader.value("author")),
            payload: try reader.object("payload", default: [:]), personal: try reader.object("personal", default: [:]))
    }
}

extension Field {
    /// The field with its kind, so that a replica that does not know it still merges it.
    public var value: Value {
        switch state {
        case .register(let register):
            return .object([
                "kind": "register", "history": .bool(register.keepsHistory), "personal": .bool(personal),
                "writes": .array(register.writes.map(\.tree)),
            ])
        case .set(let set):
            let adds = set.adds.sorted { lhs, rhs in
                lhs.value != rhs.value ? utf8Precedes(lhs.value, rhs.value) : lhs.key < rhs.key
            }
            return .object([
                "kind": "set",
                "adds": .array(adds.map { .array([.string($0.value), $0.key.value]) }),
                "removed": .array(set.removed.sorted().map(\.value)),
            ])
        case .log(let log):
            let redactions = log.redactions.sorted { $0.key < $1.key }
            return .object([
                "kind": "log",
                "entries": .array(log.ordered.map(\.value)),
                "redactions": .array(redactions.map { .array([.string($0.key.rawValue), $0.value.value]) }),
            ])
        }
    }

    public init(value: Value) throws(CodecError) {
        let reader = try ObjectReader(value, "field")
        switch try reader.string("kind") {
        case "register":
            let history = try reader.bool("history", default: false)
            var writes: [RegisterWrite] = []
            for write in try reader.array("writes") { writes.append(try RegisterWrite(tree: write)) }
            guard let first = writes.first else { throw reader.invalid("writes", "a non-empty array") }
            var register = RegisterState(first, keepsHistory: history)
            do {
                for write in writes.dropFirst() { try register.merge(write) }
            } catch {
                throw CodecError(.invalidValue, "field.writes: \(error.message)")
            }
            self.init(personal: try reader.bool("personal", default: false), state: .register(register))
        case "set":
            var set = ORSetState()
            for pair in try reader.array("adds") {
                guard let elements = pair.arrayValue, elements.count == 2, let element = elements[0].stringValue else {
                    throw reader.invalid("adds", "an array of [element, stamp] pairs")
                }
                do { try set.add(element, tag: try Stamp(value: elements[1])) } catch let error as MergeError {
                    throw CodecError(.invalidValue, "field.adds: \(error.message)")
                } catch { throw error as! CodecError }
            }
            set.remove(observed: try Stamp.list(reader.array("removed")))
            self.init(state: .set(set))
        case "log":
            var log = LogState()
            for pair in try reader.array("redactions") {
                guard let elements = pair.arrayValue, elements.count == 2, let id = elements[0].stringValue else {
                    throw reader.invalid("redactions", "an array of [entryID, stamp] pairs")
                }
                log.redact(EntryID(id), stamp: try Stamp(value: elements[1]))
            }
            for entry in try reader.array("entries") {
                let decoded = try LogEntry(value: entry)
                do { try log.append(decoded) } catch {
                    throw CodecError(.invalidValue, "field.entries: \(error.message)")
                }
            }
            self.init(state: .log(log))
        default:
            throw reader.invalid("kind", "register, set or log")
        }
    }
}

extension Record {
    /// The canonical tree of the record: `type`, `id`, `fields`, and `deleted` and `redacted` once set.
    public var value: Value {
        var members: [String: Value] = [
            "type": .string(type.rawValue), "id": .string(id.rawValue),
            "fields": .object(fields.mapValues(\.value)),
        ]
        if let deleted { members["deleted"] = deleted.value }
        if let redacted { members["redacted"] = redacted.value }
        return .object(members)
    }

    public init(value: Value) throws(CodecError) {
        let reader = try ObjectReader(value, "record")
        var fields: [String: Field] = [:]
        for (name, field) in try reader.object("fields", default: [:]) { fields[name] = try Field(value: field) }
        self.init(
            key: RecordKey(type: RecordType(try reader.string("type")), id: RecordID(try reader.string("id"))),
            fields: fields, deleted: try Stamp.optional(reader.optional("deleted")),
            redacted: try Stamp.optional(reader.optional("redacted")))
    }

    /// The record's canonical JSON bytes.
    public var canonicalJSON: [UInt8] { CanonicalJSON.encode(value) }
}

extension RecordChange {
    public var value: Value {
        var members: [String: Value] = ["type": .string(key.type.rawValue), "id": .string(key.id.rawValue)]
        switch change {
        case .write(let field, let value, let base, let stamp, let history, let personal):
            members.merge([
                "op": "write", "field": .string(field), "value": value, "base": base.value, "stamp": stamp.value,
                "history": .bool(history), "personal": .bool(personal),
            ]) { $1 }
        case .add(let field, let element, let stamp):
            members.merge(["op": "add", "field": .string(field), "element": .string(element), "stamp": stamp.value]) {
                $1
            }
        case .remove(let field, let element, let observed, let stamp):
            members.merge([
                "op": "remove", "field": .string(field), "element": .string(element),
                "observed": .array(observed.sorted().map(\.value)), "stamp": stamp.value,
            ]) { $1 }
        case .append(let field, let entry):
            members.merge([
                "op": "append", "field": .string(field),
                "entry": .object([
                    "id": .string(entry.id.rawValue), "stamp": entry.stamp.value, "kind": .string(entry.kind),
                    "payload": .object(entry.payload), "personal": .object(entry.personal),
                ]),
            ]) { $1 }
        case .redactEntry(let field, let entry, let stamp):
            members.merge([
                "op": "redactEntry", "field": .string(field), "entry": .string(entry.rawValue), "stamp": stamp.value,
            ]) { $1 }
        case .delete(let stamp):
            members.merge(["op": "delete", "stamp": stamp.value]) { $1 }
        case .redact(let stamp):
            members.merge(["op": "redact", "stamp": stamp.value]) { $1 }
        }
        return .object(members)
    }

    public init(value: Value) throws(CodecError) {
        let reader = try ObjectReader(value, "change")
        let key = RecordKey(type: RecordType(try reader.string("type")), id: RecordID(try reader.string("id")))
        let stamp = { () throws(CodecError) -> Stamp in try Stamp(value: reader.value("stamp")) }
        let change: Change
        switch try reader.string("op") {
        case "write":
            change = .write(
                field: try reader.string("field"), value: try reader.value("value"),
                base: try Stamp.optional(reader.optional("base")), stamp: try stamp(),
                history: try reader.bool("history", default: false),
                personal: try reader.bool("personal", default: false))
        case "add":
            change = .add(field: try reader.string("field"), element: try reader.string("element"), stamp: try stamp())
        case "remove":
            change = .remove(
                field: try reader.string("field"), element: try reader.string("element"),
                observed: try Stamp.list(reader.array("observed")), stamp: try stamp())
        case "append":
            let entry = try ObjectReader(reader.value("entry"), "change.entry")
            change = .append(
                field: try reader.string("field"),
                entry: NewEntry(
                    id: EntryID(try entry.string("id")), stamp: try Stamp(value: entry.value("stamp")),
                    kind: try entry.string("kind"), payload: try entry.object("payload", default: [:]),
                    personal: try entry.object("personal", default: [:])))
        case "redactEntry":
            change = .redactEntry(
                field: try reader.string("field"), entry: EntryID(try reader.string("entry")), stamp: try stamp())
        case "delete":
            change = .delete(stamp: try stamp())
        case "redact":
            change = .redact(stamp: try stamp())
        default:
            throw reader.invalid("op", "one of write, add, remove, append, redactEntry, delete, redact")
        }
        self.init(key, change)
    }
}

extension ChangeSet {
    /// `{"replica","seq","author","schemaVersion","changes"}`; `seq` is an integer.
    public var value: Value {
        .object([
            "replica": .string(id.replica.description), "seq": .int(Int64(id.seq)), "author": author.value,
            "schemaVersion": .int(Int64(schemaVersion)), "changes": .array(changes.map(\.value)),
        ])
    }

    public init(value: Value) throws(CodecError) {
        let reader = try ObjectReader(value, "changeSet")
        let text = try reader.string("replica")
        guard let replica = ReplicaID(text), replica.description == text else {
            throw reader.invalid("replica", "a lower-case UUID")
        }
        let seq = try reader.int("seq")
        guard seq >= 0 else { throw reader.invalid("seq", "a non-negative integer") }
        let version = try reader.int("schemaVersion")
        guard version >= 0, version <= Int64(Int32.max) else {
            throw reader.invalid("schemaVersion", "a small integer")
        }
        var changes: [RecordChange] = []
        for change in try reader.array("changes") { changes.append(try RecordChange(value: change)) }
        self.init(
            id: ChangeSetID(replica: replica, seq: UInt64(seq)), author: try Author(value: reader.value("author")),
            schemaVersion: Int(version), changes: changes)
    }

    /// Decodes a change set from JSON bytes.
    public init(json: some Collection<UInt8>) throws(CodecError) {
        try self.init(value: CanonicalJSON.decode(json))
    }
}
