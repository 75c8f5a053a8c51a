extension RecordImage {
    /// Checks `bytes` without building the record: they must be one record in the binary form,
    /// every byte of it read as the decoder reads it (magic, tables, counts against the bytes
    /// left, table indexes, UTF-8, value tags and nesting, entry payloads as objects, no register
    /// without writes, no field twice). What only the values can show (register writes, set adds
    /// or entries that collide, an object key twice) is checked when the record is decoded, to
    /// merge or to read it.
    ///
    /// It keeps what applying the image needs: the key and the largest stamp.
    /// - Throws: ``CodecError`` `malformedBinary`.
    public init(checking bytes: [UInt8]) throws(CodecError) {
        var checker = try ImageChecker(bytes)
        checked = try checker.record()
        self.bytes = bytes
    }
}

/// Walks a record in the binary form the way ``BinaryDecoder`` does, allocating nothing per
/// value: strings are checked in place, values skipped.
struct ImageChecker {
    var reader: ByteReader
    var replicas: [ReplicaID] = []
    var authors = 0
    /// Where each string of the table lies in the bytes.
    var strings: [Range<Int>] = []
    var previousMillis: Int64 = 0
    var largest: Stamp?

    init(_ bytes: [UInt8]) throws(CodecError) {
        reader = ByteReader(bytes: bytes)
        guard bytes.count >= BinaryForm.records.count,
            Array(try reader.take(BinaryForm.records.count)) == BinaryForm.records
        else { throw CodecError(.malformedBinary, "not the expected Concierge binary form") }
        for _ in 0..<(try reader.count()) { replicas.append(try reader.uuid()) }
        authors = try reader.count()
        for _ in 0..<authors {
            _ = try string()
            _ = try string()
        }
        for _ in 0..<(try reader.count()) { strings.append(try string()) }
        // The table of record keys (unused by records, checked all the same).
        for _ in 0..<(try reader.count()) {
            _ = try index(below: strings.count)
            try identifier()
        }
    }

    mutating func record() throws(CodecError) -> RecordImage.Checked {
        guard try reader.count() == 1 else { throw reader.error("expected one record") }
        let typeRange = strings[try index(below: strings.count)]
        let type = String(decoding: reader.bytes[typeRange], as: UTF8.self)
        let id = try reader.identifier()
        let flags = try reader.byte()
        guard flags & ~3 == 0 else { throw reader.error("invalid record flags") }
        if flags & 1 != 0 { try stamp() }
        if flags & 2 != 0 { try stamp() }
        var seen = [Bool](repeating: false, count: strings.count)
        for _ in 0..<(try reader.count()) {
            let name = try index(below: strings.count)
            guard !seen[name] else { throw reader.error("duplicate field") }
            seen[name] = true
            try field()
        }
        guard reader.isAtEnd else { throw reader.error("unexpected bytes at the end") }
        return RecordImage.Checked(key: RecordKey(type: RecordType(type), id: RecordID(id)), largestStamp: largest)
    }

    mutating func field() throws(CodecError) {
        let kind = try reader.byte()
        switch kind & ~0x10 {
        case 0, 0x20:
            let count = try reader.count()
            guard count > 0 else { throw reader.error("a register without writes") }
            for _ in 0..<count {
                let hasBase = try reader.byte()
                guard hasBase <= 1 else { throw reader.error("invalid flag") }
                try stamp()
                // A base names an earlier write: the decoded record does not count it (nor here).
                if hasBase == 1 { try stamp(counts: false) }
                try value(depth: 0)
                _ = try index(below: authors)
            }
        case 1:
            for _ in 0..<(try reader.count()) {
                _ = try index(below: strings.count)
                try stamp()
            }
            for _ in 0..<(try reader.count()) { try stamp() }
        case 2:
            for _ in 0..<(try reader.count()) {
                try identifier()
                try stamp()
            }
            for _ in 0..<(try reader.count()) {
                try identifier()
                try stamp()
                _ = try index(below: strings.count)
                _ = try index(below: authors)
                for _ in 0..<2 {
                    guard try reader.byte() == 6 else { throw reader.error("entry payloads must be objects") }
                    reader.index -= 1
                    try value(depth: 0)
                }
            }
        default:
            throw reader.error("unknown field kind")
        }
    }

    /// A stamp, relative to the previous one, noting the largest (the stamps ``Record/largestStamp``
    /// counts).
    mutating func stamp(counts: Bool = true) throws(CodecError) {
        let hlc = try reader.stamp(relativeTo: previousMillis)
        previousMillis = Int64(bitPattern: hlc.millis)
        let stamp = Stamp(hlc: hlc, replica: replicas[try index(below: replicas.count)])
        if counts, largest.map({ $0 < stamp }) ?? true { largest = stamp }
    }

    mutating func index(below count: Int) throws(CodecError) -> Int {
        let index = try reader.varint()
        guard index < UInt64(count) else { throw reader.error("table index out of range") }
        return Int(index)
    }

    /// A length-prefixed string, checked to be UTF-8; where it lies.
    mutating func string() throws(CodecError) -> Range<Int> {
        let count = try reader.count()
        return try utf8(count)
    }

    mutating func utf8(_ count: Int) throws(CodecError) -> Range<Int> {
        let start = reader.index
        _ = try reader.take(count)
        guard Self.isUTF8(reader.bytes, start..<start + count) else { throw reader.error("invalid UTF-8") }
        return start..<start + count
    }

    /// What ``ByteWriter/identifier(_:)`` wrote.
    mutating func identifier() throws(CodecError) {
        switch try reader.byte() {
        case 0: _ = try reader.take(16)
        case 1: _ = try string()
        default: throw reader.error("unknown id form")
        }
    }

    /// Skips a value as ``ByteReader/value(depth:)`` reads it.
    mutating func value(depth: Int) throws(CodecError) {
        guard depth < CanonicalJSON.maximumDepth else { throw reader.error("nesting too deep") }
        let tag = try reader.byte()
        if tag & 0x80 != 0 {
            _ = try utf8(Int(tag & 0x7F))
            return
        }
        switch tag {
        case 0, 1, 2: return
        case 3: _ = try reader.varint()
        case 4: _ = try string()
        case 5: for _ in 0..<(try reader.count()) { try value(depth: depth + 1) }
        case 6:
            for _ in 0..<(try reader.count()) {
                _ = try string()
                try value(depth: depth + 1)
            }
        default: throw reader.error("unknown value tag")
        }
    }

    /// Whether `bytes[range]` is well-formed UTF-8 (no overlong forms, surrogates or values past
    /// U+10FFFF), as `String(validating:)` has it.
    static func isUTF8(_ bytes: [UInt8], _ range: Range<Int>) -> Bool {
        var index = range.lowerBound
        let end = range.upperBound
        while index < end {
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            let length: Int
            var lower: UInt8 = 0x80
            var upper: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0:
                length = 3
                lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED:
                length = 3
                upper = 0x9F
            case 0xF0:
                length = 4
                lower = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4:
                length = 4
                upper = 0x8F
            default: return false
            }
            guard end - index >= length else { return false }
            let second = bytes[index + 1]
            guard second >= lower, second <= upper else { return false }
            for offset in 2..<max(length, 2) where bytes[index + offset] & 0xC0 != 0x80 { return false }
            index += length
        }
        return true
    }
}
