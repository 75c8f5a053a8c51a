import Foundation

/// The compact binary form of a batch of change sets, for phones on slow or metered links.
///
/// It carries exactly what the canonical JSON form carries (decoding gives equal sets), in fewer
/// bytes: replica ids, authors, strings (field names, types, kinds, set elements) and record ids
/// are written once per batch in tables and referred to by index; stamps are millisecond deltas
/// from the previous stamp with the counter packed alongside; bases are deltas from their write's
/// stamp; a set that repeats the previous set's replica, author and schema version spends one flag
/// byte on that. `docs/encoding.md` gives the layout.
public enum CompactBinary {
    static let magic: [UInt8] = Array("CCB1".utf8)

    /// Encodes a batch of change sets.
    public static func encode(_ sets: [ChangeSet]) -> [UInt8] {
        var tables = Tables()
        var body = ByteWriter()
        var previousMillis: Int64 = 0
        var previous: (replica: Int, author: Int, version: Int, seq: UInt64)?
        body.varint(UInt64(sets.count))
        for set in sets {
            let replica = tables.replica(set.id.replica)
            let author = tables.author(set.author)
            var flags: UInt8 = 0
            if let previous {
                if previous.replica == replica { flags |= 1 }
                if previous.author == author { flags |= 2 }
                if previous.version == set.schemaVersion { flags |= 4 }
            }
            if set.changes.count == 1 { flags |= 8 }
            body.byte(flags)
            if flags & 1 == 0 { body.varint(UInt64(replica)) }
            if flags & 2 == 0 { body.varint(UInt64(author)) }
            if flags & 4 == 0 { body.varint(UInt64(set.schemaVersion)) }
            body.signed(Int64(bitPattern: set.id.seq &- (previous?.seq ?? 0)))
            if flags & 8 == 0 { body.varint(UInt64(set.changes.count)) }
            previous = (replica, author, set.schemaVersion, set.id.seq)
            for change in set.changes {
                encode(
                    change, setReplica: set.id.replica, tables: &tables, body: &body, previousMillis: &previousMillis)
            }
        }
        var out = ByteWriter()
        out.bytes.append(contentsOf: magic)
        tables.write(into: &out)
        out.bytes.append(contentsOf: body.bytes)
        return out.bytes
    }

    enum Op: UInt8 {
        case write = 0, add, remove, append, redactEntry, delete, redact
    }

    static func encode(
        _ recordChange: RecordChange, setReplica: ReplicaID, tables: inout Tables, body: inout ByteWriter,
        previousMillis: inout Int64
    ) {
        let change = recordChange.change
        let stamp = change.stamp
        var op: UInt8
        switch change {
        case .write(_, _, let base, _, let history, let personal):
            op = Op.write.rawValue
            if history { op |= 0x08 }
            if personal { op |= 0x10 }
            if base != nil { op |= 0x20 }
        case .add: op = Op.add.rawValue
        case .remove: op = Op.remove.rawValue
        case .append: op = Op.append.rawValue
        case .redactEntry: op = Op.redactEntry.rawValue
        case .delete: op = Op.delete.rawValue
        case .redact: op = Op.redact.rawValue
        }
        if stamp.replica != setReplica { op |= 0x40 }
        body.byte(op)
        body.varint(UInt64(tables.record(recordChange.key)))
        if let field = change.field { body.varint(UInt64(tables.string(field))) }
        // The stamp, as a delta from the previous one.
        body.stamp(stamp.hlc, relativeTo: previousMillis)
        previousMillis = Int64(bitPattern: stamp.hlc.millis)
        if stamp.replica != setReplica { body.varint(UInt64(tables.replica(stamp.replica))) }
        switch change {
        case .write(_, let value, let base, _, _, _):
            if let base {
                body.stamp(base.hlc, relativeTo: Int64(bitPattern: stamp.hlc.millis))
                body.varint(UInt64(tables.replica(base.replica)))
            }
            body.value(value)
        case .add(_, let element, _):
            body.varint(UInt64(tables.string(element)))
        case .remove(_, let element, let observed, _):
            body.varint(UInt64(tables.string(element)))
            body.varint(UInt64(observed.count))
            for tag in observed {
                body.stamp(tag.hlc, relativeTo: Int64(bitPattern: stamp.hlc.millis))
                body.varint(UInt64(tables.replica(tag.replica)))
            }
        case .append(_, let entry):
            body.string(entry.id.rawValue)
            body.varint(UInt64(tables.string(entry.kind)))
            body.value(.object(entry.payload))
            body.value(.object(entry.personal))
        case .redactEntry(_, let entry, _):
            body.string(entry.rawValue)
        case .delete, .redact:
            break
        }
    }

    /// Decodes a batch of change sets.
    /// - Throws: ``CodecError`` `malformedBinary` for truncated or corrupt input.
    public static func decode(_ bytes: [UInt8]) throws(CodecError) -> [ChangeSet] {
        var reader = ByteReader(bytes: bytes)
        guard bytes.count >= 4, Array(try reader.take(4)) == magic else {
            throw CodecError(.malformedBinary, "not a Concierge binary batch")
        }
        let tables = try DecodedTables(&reader)
        let (replicas, authors) = (tables.replicas, tables.authors)
        let (strings, records) = (tables.strings, tables.records)
        var sets: [ChangeSet] = []
        var previousMillis: Int64 = 0
        var previous: (replica: ReplicaID, author: Author, version: Int, seq: UInt64)?
        for _ in 0..<(try reader.count()) {
            let flags = try reader.byte()
            guard flags & 0xF0 == 0, flags & 7 == 0 || previous != nil else { throw reader.error("invalid set flags") }
            let replica = flags & 1 != 0 ? previous!.replica : try reader.element(of: replicas)
            let author = flags & 2 != 0 ? previous!.author : try reader.element(of: authors)
            let version = flags & 4 != 0 ? previous!.version : Int(try reader.bounded(Int32.max))
            let seq = (previous?.seq ?? 0) &+ UInt64(bitPattern: try reader.signed())
            let count = flags & 8 != 0 ? 1 : try reader.count()
            var changes: [RecordChange] = []
            changes.reserveCapacity(min(count, ByteReader.reserveLimit))
            for _ in 0..<count {
                changes.append(
                    try decodeChange(
                        &reader, setReplica: replica, replicas: replicas, strings: strings, records: records,
                        previousMillis: &previousMillis))
            }
            previous = (replica, author, version, seq)
            sets.append(
                ChangeSet(
                    id: ChangeSetID(replica: replica, seq: seq), author: author, schemaVersion: version,
                    changes: changes))
        }
        guard reader.isAtEnd else { throw reader.error("unexpected bytes after the batch") }
        return sets
    }

    static func decodeChange(
        _ reader: inout ByteReader, setReplica: ReplicaID, replicas: [ReplicaID], strings: [String],
        records: [RecordKey],
        previousMillis: inout Int64
    ) throws(CodecError) -> RecordChange {
        let opByte = try reader.byte()
        guard let op = Op(rawValue: opByte & 0x07), opByte & 0x80 == 0 else { throw reader.error("unknown operation") }
        let key = try reader.element(of: records)
        let field: String? = (op == .delete || op == .redact) ? nil : try reader.element(of: strings)
        let hlc = try reader.stamp(relativeTo: previousMillis)
        previousMillis = Int64(bitPattern: hlc.millis)
        let stamp = Stamp(hlc: hlc, replica: opByte & 0x40 != 0 ? try reader.element(of: replicas) : setReplica)
        let change: Change
        switch op {
        case .write:
            var base: Stamp?
            if opByte & 0x20 != 0 {
                let baseHLC = try reader.stamp(relativeTo: Int64(bitPattern: hlc.millis))
                base = Stamp(hlc: baseHLC, replica: try reader.element(of: replicas))
            }
            change = .write(
                field: field!, value: try reader.value(depth: 0), base: base, stamp: stamp, history: opByte & 0x08 != 0,
                personal: opByte & 0x10 != 0)
        case .add:
            change = .add(field: field!, element: try reader.element(of: strings), stamp: stamp)
        case .remove:
            let element = try reader.element(of: strings)
            var observed: [Stamp] = []
            for _ in 0..<(try reader.count()) {
                let tag = try reader.stamp(relativeTo: Int64(bitPattern: hlc.millis))
                observed.append(Stamp(hlc: tag, replica: try reader.element(of: replicas)))
            }
            change = .remove(field: field!, element: element, observed: observed, stamp: stamp)
        case .append:
            let id = EntryID(try reader.string())
            let kind = try reader.element(of: strings)
            guard case .object(let payload) = try reader.value(depth: 0),
                case .object(let personal) = try reader.value(depth: 0)
            else { throw reader.error("entry payloads must be objects") }
            change = .append(
                field: field!, entry: NewEntry(id: id, stamp: stamp, kind: kind, payload: payload, personal: personal))
        case .redactEntry:
            change = .redactEntry(field: field!, entry: EntryID(try reader.string()), stamp: stamp)
        case .delete:
            change = .delete(stamp: stamp)
        case .redact:
            change = .redact(stamp: stamp)
        }
        return RecordChange(key, change)
    }

    /// Tables built while encoding: each distinct item gets the next index.
    struct Tables {
        var replicas = InternTable<ReplicaID>()
        var authors = InternTable<Author>()
        var strings = InternTable<String>()
        var records = InternTable<RecordKey>()

        mutating func replica(_ id: ReplicaID) -> Int { replicas.index(of: id) }
        mutating func author(_ author: Author) -> Int { authors.index(of: author) }
        mutating func string(_ string: String) -> Int { strings.index(of: string) }

        mutating func record(_ key: RecordKey) -> Int {
            _ = string(key.type.rawValue)
            return records.index(of: key)
        }

        /// Replica ids (16 bytes each), authors (principal and role), strings, then record keys
        /// (type as a string index, id as an identifier), each table after its count.
        func write(into out: inout ByteWriter) {
            out.varint(UInt64(replicas.items.count))
            for replica in replicas.items { out.bytes.append(contentsOf: replica.bytes) }
            out.varint(UInt64(authors.items.count))
            for author in authors.items {
                out.string(author.principal.rawValue)
                out.string(author.role.rawValue)
            }
            out.varint(UInt64(strings.items.count))
            for string in strings.items { out.string(string) }
            out.varint(UInt64(records.items.count))
            for key in records.items {
                out.varint(UInt64(strings[key.type.rawValue]!))
                out.identifier(key.id.rawValue)
            }
        }
    }

    /// The tables as read back.
    struct DecodedTables {
        var replicas: [ReplicaID] = []
        var authors: [Author] = []
        var strings: [String] = []
        var records: [RecordKey] = []

        init(_ reader: inout ByteReader) throws(CodecError) {
            for _ in 0..<(try reader.count()) { replicas.append(try reader.uuid()) }
            for _ in 0..<(try reader.count()) {
                authors.append(Author(principal: PrincipalID(try reader.string()), role: Role(try reader.string())))
            }
            for _ in 0..<(try reader.count()) { strings.append(try reader.string()) }
            for _ in 0..<(try reader.count()) {
                let type = RecordType(try reader.element(of: strings))
                records.append(RecordKey(type: type, id: RecordID(try reader.identifier())))
            }
        }
    }
}

/// Distinct items in first-seen order, each with its index.
///
/// Most tables stay small (a field or an entry encoded alone has a replica or two and an author),
/// so up to ``scanLimit`` items are found by comparing them one by one: no hashing and no
/// dictionary to allocate. Past that, a dictionary is built once and kept up.
struct InternTable<Item: Hashable> {
    static var scanLimit: Int { 16 }

    private(set) var items: [Item] = []
    /// Every item's index, once there are more than ``scanLimit`` items.
    private var indices: [Item: Int]?

    /// The item's index, adding it when new.
    mutating func index(of item: Item) -> Int {
        if let index = self[item] { return index }
        items.append(item)
        let index = items.count - 1
        if indices != nil {
            indices![item] = index
        } else if items.count > Self.scanLimit {
            indices = Dictionary(uniqueKeysWithValues: zip(items, items.indices))
        }
        return index
    }

    subscript(item: Item) -> Int? {
        if let indices { return indices[item] }
        return items.firstIndex(of: item)
    }
}

extension ChangeSet {
    /// This set alone in the compact binary form.
    public func compactBinary() -> [UInt8] { CompactBinary.encode([self]) }

    /// Decodes a single set from the compact binary form.
    public init(binary: [UInt8]) throws(CodecError) {
        let sets = try CompactBinary.decode(binary)
        guard sets.count == 1 else {
            throw CodecError(.malformedBinary, "expected one change set, found \(sets.count)")
        }
        self = sets[0]
    }
}

struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func signed(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    mutating func string(_ string: String) {
        varint(UInt64(string.utf8.count))
        bytes.append(contentsOf: string.utf8)
    }

    /// An id: 0 and sixteen bytes for a lower-case UUID, 1 and the string otherwise.
    mutating func identifier(_ text: String) {
        if text.utf8.count == 36, let uuid = ReplicaID(text),
            !text.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "F") })
        {
            byte(0)
            uuid.write(into: &bytes)
        } else {
            byte(1)
            string(text)
        }
    }

    /// A clock value as the zigzag millisecond delta from `reference`, shifted left by two, with the
    /// counter in the low bits when it is 0, 1 or 2 (3 means the counter follows).
    mutating func stamp(_ hlc: HLC, relativeTo reference: Int64) {
        let delta = Int64(bitPattern: hlc.millis) &- reference
        let zigzag = UInt64(bitPattern: (delta << 1) ^ (delta >> 63))
        let counter = UInt64(hlc.counter)
        varint(zigzag << 2 | min(counter, 3))
        if counter >= 3 { varint(counter) }
    }

    /// Values: 0 null, 1 false, 2 true, 3 integer (zigzag), 4 long string, 5 array, 6 object,
    /// 0x80 | length for strings under 128 bytes.
    mutating func value(_ value: Value) {
        switch value {
        case .null: byte(0)
        case .bool(false): byte(1)
        case .bool(true): byte(2)
        case .int(let int):
            byte(3)
            signed(int)
        case .string(let string):
            let count = string.utf8.count
            if count < 0x80 {
                byte(0x80 | UInt8(count))
                bytes.append(contentsOf: string.utf8)
            } else {
                byte(4)
                self.string(string)
            }
        case .array(let elements):
            byte(5)
            varint(UInt64(elements.count))
            for element in elements { self.value(element) }
        case .object(let members):
            byte(6)
            varint(UInt64(members.count))
            for key in members.keys.sorted(by: utf8Precedes) {
                string(key)
                self.value(members[key]!)
            }
        }
    }
}

struct ByteReader {
    let bytes: [UInt8]
    var index = 0

    /// The most items a decoder reserves room for ahead: a count is only bounded by the bytes
    /// left, and a hostile input's count must not make the decoder allocate far more than it sent.
    static let reserveLimit = 1_024

    var isAtEnd: Bool { index == bytes.count }

    func error(_ message: String) -> CodecError {
        CodecError(.malformedBinary, "\(message) at byte \(index)")
    }

    mutating func byte() throws(CodecError) -> UInt8 {
        guard index < bytes.count else { throw error("truncated") }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func take(_ count: Int) throws(CodecError) -> ArraySlice<UInt8> {
        guard count >= 0, bytes.count - index >= count else { throw error("truncated") }
        defer { index += count }
        return bytes[index..<index + count]
    }

    mutating func varint() throws(CodecError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try self.byte()
            guard shift < 64 else { throw error("varint too long") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// A count that cannot exceed the bytes left (each item takes at least one byte).
    mutating func count() throws(CodecError) -> Int {
        let value = try varint()
        guard value <= UInt64(bytes.count - index) else { throw error("count larger than the input") }
        return Int(value)
    }

    mutating func bounded(_ limit: Int32) throws(CodecError) -> Int64 {
        let value = try varint()
        guard value <= UInt64(limit) else { throw error("value out of range") }
        return Int64(value)
    }

    mutating func signed() throws(CodecError) -> Int64 {
        let raw = try varint()
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    mutating func string() throws(CodecError) -> String {
        let count = try self.count()
        let slice = try take(count)
        guard let string = String(validating: slice, as: UTF8.self) else { throw error("invalid UTF-8") }
        return string
    }

    /// Sixteen bytes, big-endian.
    mutating func uuid() throws(CodecError) -> ReplicaID {
        guard bytes.count - index >= 16 else { throw error("truncated") }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for offset in 0..<8 { high = high << 8 | UInt64(bytes[index + offset]) }
        for offset in 8..<16 { low = low << 8 | UInt64(bytes[index + offset]) }
        index += 16
        return ReplicaID(high: high, low: low)
    }

    /// What ``ByteWriter/identifier(_:)`` wrote.
    mutating func identifier() throws(CodecError) -> String {
        switch try byte() {
        case 0: return try uuid().description
        case 1: return try string()
        default: throw error("unknown id form")
        }
    }

    mutating func element<T>(of table: [T]) throws(CodecError) -> T {
        let index = try varint()
        guard index < UInt64(table.count) else { throw error("table index out of range") }
        return table[Int(index)]
    }

    mutating func stamp(relativeTo reference: Int64) throws(CodecError) -> HLC {
        let packed = try varint()
        let zigzag = packed >> 2
        let delta = Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)
        var counter = packed & 3
        if counter == 3 {
            counter = try varint()
            guard counter <= UInt64(UInt16.max) else { throw error("counter out of range") }
        }
        let millis = reference &+ delta
        guard millis >= 0, millis < 1 << 48 else { throw error("clock value out of range") }
        return HLC(millis: UInt64(millis), counter: UInt16(counter))
    }

    mutating func value(depth: Int) throws(CodecError) -> Value {
        guard depth < CanonicalJSON.maximumDepth else { throw error("nesting too deep") }
        let tag = try byte()
        if tag & 0x80 != 0 {
            let slice = try take(Int(tag & 0x7F))
            guard let string = String(validating: slice, as: UTF8.self) else { throw error("invalid UTF-8") }
            return .string(string)
        }
        switch tag {
        case 0: return .null
        case 1: return .bool(false)
        case 2: return .bool(true)
        case 3: return .int(try signed())
        case 4: return .string(try string())
        case 5:
            var elements: [Value] = []
            for _ in 0..<(try count()) { elements.append(try value(depth: depth + 1)) }
            return .array(elements)
        case 6:
            var members: [String: Value] = [:]
            for _ in 0..<(try count()) {
                let key = try string()
                guard members.updateValue(try value(depth: depth + 1), forKey: key) == nil else {
                    throw error("duplicate key")
                }
            }
            return .object(members)
        default:
            throw error("unknown value tag")
        }
    }
}
