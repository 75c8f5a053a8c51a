/// The binary form of records, fields, log entries and pull responses: what the server stores, what
/// a replica file keeps and what a pull carries to a client that asks for it.
///
/// It carries exactly what the canonical JSON form carries (decoding gives equal values, so the
/// canonical JSON of a decoded record is byte for byte the original's), in about a sixth of the
/// bytes and without building a JSON tree on either side. Like the compact binary change-set batch
/// (``CompactBinary``) it starts with four magic bytes, then the tables (replica ids, authors,
/// strings, record keys) that the body refers to by index; stamps are millisecond deltas from the
/// previous stamp written. A reader tells it from JSON by the first byte (JSON starts with `{`).
/// `docs/encoding.md` gives the layout.
public enum BinaryForm {
    /// The media type of the binary forms on the wire: pull answers in this form, and pushes in
    /// the compact change-set batch (``CompactBinary``).
    public static let mediaType = "application/vnd.concierge.binary"

    /// A batch of records.
    static let records: [UInt8] = Array("CRB1".utf8)
    /// One field's state.
    static let field: [UInt8] = Array("CFB1".utf8)
    /// One log entry.
    static let entry: [UInt8] = Array("CEB1".utf8)
    /// A pull response.
    static let pull: [UInt8] = Array("CPB1".utf8)

    /// Whether `bytes` start with one of the binary forms' magic (rather than JSON's `{`).
    public static func isBinary(_ bytes: some Collection<UInt8>) -> Bool {
        bytes.first == UInt8(ascii: "C")
    }

    /// A record as stored: the binary form, or the canonical JSON that earlier versions stored.
    public static func record(stored bytes: [UInt8]) throws(CodecError) -> Record {
        isBinary(bytes) ? try Record(binary: bytes) : try Record(value: CanonicalJSON.decode(bytes))
    }

    /// A field's state as stored: the binary form, or canonical JSON.
    public static func field(stored bytes: [UInt8]) throws(CodecError) -> Field {
        isBinary(bytes) ? try Field(binary: bytes) : try Field(value: CanonicalJSON.decode(bytes))
    }

    /// A log entry as stored: the binary form, or canonical JSON.
    public static func entry(stored bytes: [UInt8]) throws(CodecError) -> LogEntry {
        isBinary(bytes) ? try LogEntry(binary: bytes) : try LogEntry(value: CanonicalJSON.decode(bytes))
    }

    /// A change set as a log stores it: alone in the compact binary form (``CompactBinary``), or
    /// the canonical JSON that earlier versions stored.
    public static func changeSet(stored bytes: [UInt8]) throws(CodecError) -> ChangeSet {
        isBinary(bytes) ? try ChangeSet(binary: bytes) : try ChangeSet(value: CanonicalJSON.decode(bytes))
    }

    /// Encodes a batch of records.
    public static func encode(_ records: [Record]) -> [UInt8] {
        var encoder = BinaryEncoder()
        encoder.body.varint(UInt64(records.count))
        for record in records { encoder.record(record) }
        return encoder.finish(magic: Self.records)
    }

    /// Decodes a batch of records.
    /// - Throws: ``CodecError`` `malformedBinary` for truncated, corrupt or inconsistent input.
    public static func decodeRecords(_ bytes: [UInt8]) throws(CodecError) -> [Record] {
        var decoder = try BinaryDecoder(bytes, magic: Self.records)
        var records: [Record] = []
        let count = try decoder.reader.count()
        records.reserveCapacity(min(count, ByteReader.reserveLimit))
        for _ in 0..<count { records.append(try decoder.record()) }
        try decoder.end()
        return records
    }
}

extension Record {
    /// The record alone in the binary form.
    public var binary: [UInt8] { BinaryForm.encode([self]) }

    /// Decodes a record from the binary form.
    public init(binary: [UInt8]) throws(CodecError) {
        let records = try BinaryForm.decodeRecords(binary)
        guard records.count == 1 else {
            throw CodecError(.malformedBinary, "expected one record, found \(records.count)")
        }
        self = records[0]
    }
}

extension Field {
    /// The field's state alone in the binary form.
    public var binary: [UInt8] {
        var encoder = BinaryEncoder()
        encoder.field(self)
        return encoder.finish(magic: BinaryForm.field)
    }

    /// Decodes a field's state from the binary form.
    public init(binary: [UInt8]) throws(CodecError) {
        var decoder = try BinaryDecoder(binary, magic: BinaryForm.field)
        self = try decoder.field()
        try decoder.end()
    }
}

extension LogEntry {
    /// The entry alone in the binary form.
    public var binary: [UInt8] {
        var encoder = BinaryEncoder()
        encoder.entry(self)
        return encoder.finish(magic: BinaryForm.entry)
    }

    /// Decodes an entry from the binary form.
    public init(binary: [UInt8]) throws(CodecError) {
        var decoder = try BinaryDecoder(binary, magic: BinaryForm.entry)
        self = try decoder.entry()
        try decoder.end()
    }
}

extension PullResponse {
    /// The response in the binary form (`application/vnd.concierge.binary`).
    public var binary: [UInt8] {
        var encoder = BinaryEncoder()
        switch self {
        case .page(let page):
            encoder.body.byte(0)
            encoder.cursor(page.cursor)
            encoder.body.byte(page.hasMore ? 1 : 0)
            encoder.body.varint(UInt64(page.events.count))
            for event in page.events {
                switch event {
                case .changeSet(let set):
                    encoder.body.byte(0)
                    encoder.changeSet(set)
                case .enter(let record):
                    encoder.body.byte(1)
                    encoder.record(record)
                case .leave(let key):
                    encoder.body.byte(2)
                    encoder.key(key)
                }
            }
        case .reset(let snapshot):
            encoder.body.byte(1)
            encoder.cursor(snapshot.cursor)
            encoder.body.string(snapshot.reason)
            encoder.body.byte(
                (snapshot.continues ? 1 : 0) | (snapshot.more != nil ? 2 : 0) | (snapshot.images.isEmpty ? 0 : 4))
            if let more = snapshot.more { encoder.body.string(more) }
            encoder.body.varint(UInt64(snapshot.records.count))
            for record in snapshot.records { encoder.record(record) }
            // Images go as they are, each with its length: copied, not encoded.
            if !snapshot.images.isEmpty {
                encoder.body.varint(UInt64(snapshot.images.count))
                for image in snapshot.images {
                    encoder.body.varint(UInt64(image.bytes.count))
                    encoder.body.bytes.append(contentsOf: image.bytes)
                }
            }
        }
        return encoder.finish(magic: BinaryForm.pull)
    }

    /// Decodes a response from the binary form.
    /// - Throws: ``CodecError`` `malformedBinary` for truncated, corrupt or inconsistent input.
    public init(binary: [UInt8]) throws(CodecError) {
        var decoder = try BinaryDecoder(binary, magic: BinaryForm.pull)
        switch try decoder.reader.byte() {
        case 0:
            let cursor = try decoder.cursor()
            let hasMore = try decoder.flag()
            var events: [PullEvent] = []
            for _ in 0..<(try decoder.reader.count()) {
                switch try decoder.reader.byte() {
                case 0: events.append(.changeSet(try decoder.changeSet()))
                case 1: events.append(.enter(try decoder.record()))
                case 2: events.append(.leave(try decoder.key()))
                default: throw decoder.reader.error("unknown event")
                }
            }
            self = .page(PullPage(events: events, cursor: cursor, hasMore: hasMore))
        case 1:
            let cursor = try decoder.cursor()
            let reason = try decoder.reader.string()
            let flags = try decoder.reader.byte()
            guard flags & ~7 == 0 else { throw decoder.reader.error("invalid snapshot flags") }
            let more = flags & 2 != 0 ? try decoder.reader.string() : nil
            let count = try decoder.reader.count()
            var records: [Record] = []
            records.reserveCapacity(min(count, ByteReader.reserveLimit))
            for _ in 0..<count { records.append(try decoder.record()) }
            // Each image is checked here, once: a page with one that does not check is refused whole.
            var images: [RecordImage] = []
            if flags & 4 != 0 {
                let imageCount = try decoder.reader.count()
                images.reserveCapacity(min(imageCount, ByteReader.reserveLimit))
                for _ in 0..<imageCount {
                    let length = try decoder.reader.count()
                    images.append(try RecordImage(checking: Array(try decoder.reader.take(length))))
                }
            }
            self = .reset(
                ResetSnapshot(
                    records: records, images: images, cursor: cursor, reason: reason, continues: flags & 1 != 0,
                    more: more))
        default:
            throw decoder.reader.error("unknown response kind")
        }
        try decoder.end()
    }
}

/// Writes records, fields, entries and change sets into one body that shares its tables.
struct BinaryEncoder {
    var tables = CompactBinary.Tables()
    var body = ByteWriter()
    var previousMillis: Int64 = 0

    /// The magic, the tables, then the body.
    func finish(magic: [UInt8]) -> [UInt8] {
        var out = ByteWriter()
        out.bytes.reserveCapacity(body.bytes.count + 64 + tables.replicas.items.count * 16)
        out.bytes.append(contentsOf: magic)
        tables.write(into: &out)
        out.bytes.append(contentsOf: body.bytes)
        return out.bytes
    }

    mutating func stamp(_ stamp: Stamp) {
        body.stamp(stamp.hlc, relativeTo: previousMillis)
        previousMillis = Int64(bitPattern: stamp.hlc.millis)
        body.varint(UInt64(tables.replica(stamp.replica)))
    }

    mutating func cursor(_ cursor: Cursor) {
        body.string(cursor.epoch)
        body.varint(cursor.seq)
    }

    mutating func key(_ key: RecordKey) {
        body.varint(UInt64(tables.string(key.type.rawValue)))
        body.identifier(key.id.rawValue)
    }

    mutating func record(_ record: Record) {
        key(record.key)
        body.byte((record.deleted != nil ? 1 : 0) | (record.redacted != nil ? 2 : 0))
        if let deleted = record.deleted { stamp(deleted) }
        if let redacted = record.redacted { stamp(redacted) }
        body.varint(UInt64(record.fields.count))
        for name in record.fields.keys.sorted(by: utf8Precedes) {
            body.varint(UInt64(tables.string(name)))
            field(record.fields[name]!)
        }
    }

    /// Kind in the low bits (0 register, 1 set, 2 log), 0x10 personal, 0x20 keeps history.
    mutating func field(_ field: Field) {
        let personal: UInt8 = field.personal ? 0x10 : 0
        switch field.state {
        case .register(let register):
            body.byte(0 | personal | (register.keepsHistory ? 0x20 : 0))
            let writes = register.writes
            body.varint(UInt64(writes.count))
            for write in writes {
                body.byte(write.base != nil ? 1 : 0)
                stamp(write.stamp)
                if let base = write.base { stamp(base) }
                body.value(write.value)
                body.varint(UInt64(tables.author(write.author)))
            }
        case .set(let set):
            body.byte(1 | personal)
            let adds = set.adds.sorted { lhs, rhs in
                lhs.value != rhs.value ? utf8Precedes(lhs.value, rhs.value) : lhs.key < rhs.key
            }
            body.varint(UInt64(adds.count))
            for (tag, element) in adds {
                body.varint(UInt64(tables.string(element)))
                stamp(tag)
            }
            body.varint(UInt64(set.removed.count))
            for tag in set.removed.sorted() { stamp(tag) }
        case .log(let log):
            body.byte(2 | personal)
            body.varint(UInt64(log.redactions.count))
            for (id, tag) in log.redactions.sorted(by: { $0.key < $1.key }) {
                body.identifier(id.rawValue)
                stamp(tag)
            }
            body.varint(UInt64(log.entries.count))
            for entry in log.ordered { self.entry(entry) }
        }
    }

    mutating func entry(_ entry: LogEntry) {
        body.identifier(entry.id.rawValue)
        stamp(entry.stamp)
        body.varint(UInt64(tables.string(entry.kind)))
        body.varint(UInt64(tables.author(entry.author)))
        body.value(.object(entry.payload))
        body.value(.object(entry.personal))
    }

    mutating func changeSet(_ set: ChangeSet) {
        body.varint(UInt64(tables.replica(set.id.replica)))
        body.varint(set.id.seq)
        body.varint(UInt64(tables.author(set.author)))
        body.varint(UInt64(set.schemaVersion))
        body.varint(UInt64(set.changes.count))
        for change in set.changes {
            CompactBinary.encode(
                change, setReplica: set.id.replica, tables: &tables, body: &body, previousMillis: &previousMillis)
        }
    }
}

/// Reads what ``BinaryEncoder`` wrote, checking everything: a malformed input throws, never traps.
struct BinaryDecoder {
    var reader: ByteReader
    let tables: CompactBinary.DecodedTables
    var previousMillis: Int64 = 0

    init(_ bytes: [UInt8], magic: [UInt8]) throws(CodecError) {
        reader = ByteReader(bytes: bytes)
        guard bytes.count >= magic.count, Array(try reader.take(magic.count)) == magic else {
            throw CodecError(.malformedBinary, "not the expected Concierge binary form")
        }
        tables = try CompactBinary.DecodedTables(&reader)
    }

    func end() throws(CodecError) {
        guard reader.isAtEnd else { throw reader.error("unexpected bytes at the end") }
    }

    mutating func flag() throws(CodecError) -> Bool {
        switch try reader.byte() {
        case 0: return false
        case 1: return true
        default: throw reader.error("invalid flag")
        }
    }

    mutating func stamp() throws(CodecError) -> Stamp {
        let hlc = try reader.stamp(relativeTo: previousMillis)
        previousMillis = Int64(bitPattern: hlc.millis)
        return Stamp(hlc: hlc, replica: try reader.element(of: tables.replicas))
    }

    mutating func cursor() throws(CodecError) -> Cursor {
        let epoch = try reader.string()
        return Cursor(epoch: epoch, seq: try reader.varint())
    }

    mutating func key() throws(CodecError) -> RecordKey {
        let type = RecordType(try reader.element(of: tables.strings))
        return RecordKey(type: type, id: RecordID(try reader.identifier()))
    }

    mutating func record() throws(CodecError) -> Record {
        let key = try key()
        let flags = try reader.byte()
        guard flags & ~3 == 0 else { throw reader.error("invalid record flags") }
        let deleted = flags & 1 != 0 ? try stamp() : nil
        let redacted = flags & 2 != 0 ? try stamp() : nil
        var fields: [String: Field] = [:]
        let count = try reader.count()
        fields.reserveCapacity(min(count, ByteReader.reserveLimit))
        for _ in 0..<count {
            let name = try reader.element(of: tables.strings)
            guard fields.updateValue(try field(), forKey: name) == nil else { throw reader.error("duplicate field") }
        }
        return Record(key: key, fields: fields, deleted: deleted, redacted: redacted)
    }

    mutating func field() throws(CodecError) -> Field {
        let kind = try reader.byte()
        let personal = kind & 0x10 != 0
        switch kind & ~0x10 {
        case 0, 0x20:
            let count = try reader.count()
            guard count > 0 else { throw reader.error("a register without writes") }
            var register: RegisterState?
            for _ in 0..<count {
                let hasBase = try flag()
                let stamp = try stamp()
                let base = hasBase ? try self.stamp() : nil
                let value = try reader.value(depth: 0)
                let write = RegisterWrite(
                    stamp: stamp, base: base, value: value, author: try reader.element(of: tables.authors))
                if register == nil {
                    register = RegisterState(write, keepsHistory: kind & 0x20 != 0)
                } else {
                    do { try register!.merge(write) } catch { throw reader.error("register writes collide") }
                }
            }
            return Field(personal: personal, state: .register(register!))
        case 1:
            var set = ORSetState()
            for _ in 0..<(try reader.count()) {
                let element = try reader.element(of: tables.strings)
                do { try set.add(element, tag: try stamp()) } catch let error as MergeError {
                    throw reader.error("set adds collide: \(error.message)")
                } catch { throw error as! CodecError }
            }
            var removed: [Stamp] = []
            for _ in 0..<(try reader.count()) { removed.append(try stamp()) }
            set.remove(observed: removed)
            return Field(personal: personal, state: .set(set))
        case 2:
            var log = LogState()
            for _ in 0..<(try reader.count()) {
                let id = EntryID(try reader.identifier())
                log.redact(id, stamp: try stamp())
            }
            for _ in 0..<(try reader.count()) {
                do { try log.append(try entry()) } catch let error as MergeError {
                    throw reader.error("log entries collide: \(error.message)")
                } catch { throw error as! CodecError }
            }
            return Field(personal: personal, state: .log(log))
        default:
            throw reader.error("unknown field kind")
        }
    }

    mutating func entry() throws(CodecError) -> LogEntry {
        let id = EntryID(try reader.identifier())
        let stamp = try stamp()
        let kind = try reader.element(of: tables.strings)
        let author = try reader.element(of: tables.authors)
        guard case .object(let payload) = try reader.value(depth: 0),
            case .object(let personal) = try reader.value(depth: 0)
        else { throw reader.error("entry payloads must be objects") }
        return LogEntry(id: id, stamp: stamp, kind: kind, author: author, payload: payload, personal: personal)
    }

    mutating func changeSet() throws(CodecError) -> ChangeSet {
        let replica = try reader.element(of: tables.replicas)
        let seq = try reader.varint()
        let author = try reader.element(of: tables.authors)
        let version = Int(try reader.bounded(Int32.max))
        let count = try reader.count()
        var changes: [RecordChange] = []
        changes.reserveCapacity(min(count, ByteReader.reserveLimit))
        for _ in 0..<count {
            changes.append(
                try CompactBinary.decodeChange(
                    &reader, setReplica: replica, replicas: tables.replicas, strings: tables.strings,
                    records: tables.records, previousMillis: &previousMillis))
        }
        return ChangeSet(
            id: ChangeSetID(replica: replica, seq: seq), author: author, schemaVersion: version, changes: changes)
    }
}
