import Foundation

/// The canonical JSON form of a ``Value``: no whitespace, object keys sorted by their UTF-8 bytes,
/// `/` not escaped, integers plain, no floats.
///
/// Two replicas that hold the same merged state produce the same bytes, so hashes and byte
/// comparisons of canonical JSON are meaningful. The parser accepts any JSON without floats
/// (whitespace, any key order, escapes) and rejects duplicate keys, floats and integers outside
/// 64 bits.
public enum CanonicalJSON {
    /// The deepest nesting the parser accepts; deeper input is refused rather than risking the stack.
    public static let maximumDepth = 64

    /// Encodes `value` as canonical JSON bytes.
    public static func encode(_ value: Value) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, into: &out)
        return out
    }

    /// Encodes `value` as a canonical JSON string.
    public static func string(_ value: Value) -> String {
        String(decoding: encode(value), as: UTF8.self)
    }

    /// Appends the canonical form of `value` to `out`.
    public static func write(_ value: Value, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(true): out.append(contentsOf: [0x74, 0x72, 0x75, 0x65])
        case .bool(false): out.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65])
        case .int(let int): writeInteger(int, into: &out)
        case .string(let string): writeString(string, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            // Sorted as pairs: no second lookup of each key.
            for (index, member) in members.sorted(by: { utf8Precedes($0.key, $1.key) }).enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                writeString(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(member.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeInteger(_ int: Int64, into out: inout [UInt8]) {
        if int < 0 { out.append(UInt8(ascii: "-")) }
        writeUnsigned(int.magnitude, into: &out)
    }

    /// The decimal digits of `number` (a clock value may use all 64 bits).
    static func writeUnsigned(_ number: UInt64, into out: inout [UInt8]) {
        if number == 0 {
            out.append(UInt8(ascii: "0"))
            return
        }
        var magnitude = number
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            while magnitude > 0 {
                buffer[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            }
            for index in stride(from: count - 1, through: 0, by: -1) { out.append(buffer[index]) }
        }
    }

    static func writeString(_ string: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings need no escape: copied whole.
        if !string.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out.append(contentsOf: string.utf8)
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Parses JSON bytes into a ``Value``.
    /// - Throws: ``CodecError`` with `malformedJSON` or `floatNotAllowed`, naming the byte offset.
    public static func decode<Bytes: Collection<UInt8>>(_ bytes: Bytes) throws(CodecError) -> Value {
        let array = Array(bytes)
        return try array.withUnsafeBufferPointer { (buffer) throws(CodecError) -> Value in
            var parser = Parser(bytes: buffer)
            parser.skipWhitespace()
            let value = try parser.parseValue(depth: 0)
            parser.skipWhitespace()
            guard parser.index == buffer.count else { throw parser.error("unexpected bytes after the value") }
            return value
        }
    }

    /// Parses JSON from outside Concierge (a JWT's claims, say) where floats such as `1.7e9`
    /// may appear: they become integers, rounded down.
    static func decodeAllowingFloats(_ data: Data) throws(CodecError) -> Value {
        let array = Array(data)
        return try array.withUnsafeBufferPointer { (buffer) throws(CodecError) -> Value in
            var parser = Parser(bytes: buffer, allowsWholeFloats: true)
            parser.skipWhitespace()
            let value = try parser.parseValue(depth: 0)
            parser.skipWhitespace()
            guard parser.index == buffer.count else { throw parser.error("unexpected bytes after the value") }
            return value
        }
    }

    /// Parses a JSON string into a ``Value``.
    public static func decode(_ string: String) throws(CodecError) -> Value {
        try decode(Array(string.utf8))
    }

    struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0
        /// Accept floats, rounded down to integers.
        var allowsWholeFloats = false

        init(bytes: UnsafeBufferPointer<UInt8>, allowsWholeFloats: Bool = false) {
            self.bytes = bytes
            self.allowsWholeFloats = allowsWholeFloats
        }

        func error(_ message: String, _ code: CodecError.Code = .malformedJSON) -> CodecError {
            CodecError(code, "\(message) at byte \(index)")
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x0A, 0x0D, 0x09: index += 1
                default: return
                }
            }
        }

        mutating func expect(_ literal: StaticString, _ value: Value) throws(CodecError) -> Value {
            let count = literal.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw error("truncated literal") }
            let start = literal.utf8Start
            for offset in 0..<count where bytes[index + offset] != start[offset] {
                throw error("invalid literal")
            }
            index += count
            return value
        }

        mutating func parseValue(depth: Int) throws(CodecError) -> Value {
            guard depth < CanonicalJSON.maximumDepth else { throw error("nesting too deep") }
            guard index < bytes.count else { throw error("unexpected end of input") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try parseObject(depth: depth)
            case UInt8(ascii: "["): return try parseArray(depth: depth)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"): return try expect("true", .bool(true))
            case UInt8(ascii: "f"): return try expect("false", .bool(false))
            case UInt8(ascii: "n"): return try expect("null", .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .int(try parseInteger())
            default: throw error("unexpected character")
            }
        }

        mutating func parseObject(depth: Int) throws(CodecError) -> Value {
            index += 1
            var members: [String: Value] = [:]
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a key") }
                let key = try parseString()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
                index += 1
                skipWhitespace()
                let value = try parseValue(depth: depth + 1)
                guard members.updateValue(value, forKey: key) == nil else { throw error("duplicate key") }
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of input") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                } else if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .object(members)
                } else {
                    throw error("expected ',' or '}'")
                }
            }
        }

        mutating func parseArray(depth: Int) throws(CodecError) -> Value {
            index += 1
            var elements: [Value] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                elements.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of input") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                } else if bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(elements)
                } else {
                    throw error("expected ',' or ']'")
                }
            }
        }

        mutating func parseInteger() throws(CodecError) -> Int64 {
            let start = index
            do {
                return try parseStrictInteger()
            } catch  where allowsWholeFloats && error.code == .floatNotAllowed {
                index = start
                while index < bytes.count, Array("+-.eE0123456789".utf8).contains(bytes[index]) { index += 1 }
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                guard let double = Double(text), double.isFinite, abs(double) < 9.0e15 else { throw error }
                return Int64(double.rounded(.down))
            }
        }

        mutating func parseStrictInteger() throws(CodecError) -> Int64 {
            let negative = bytes[index] == UInt8(ascii: "-")
            if negative { index += 1 }
            let digitsStart = index
            var magnitude: UInt64 = 0
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(UInt64(bytes[index] - 0x30))
                guard !overflow1, !overflow2 else { throw error("integer out of 64-bit range", .invalidValue) }
                magnitude = sum
                index += 1
            }
            guard index > digitsStart else { throw error("expected digits") }
            if index - digitsStart > 1, bytes[digitsStart] == 0x30 { throw error("leading zero") }
            if index < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) {
                throw error("floating-point numbers are not allowed", .floatNotAllowed)
            }
            if negative {
                guard magnitude <= UInt64(Int64.max) + 1 else {
                    throw error("integer out of 64-bit range", .invalidValue)
                }
                return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
            }
            guard magnitude <= UInt64(Int64.max) else { throw error("integer out of 64-bit range", .invalidValue) }
            return Int64(magnitude)
        }

        mutating func parseHex4() throws(CodecError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw error("truncated \\u escape") }
            var result: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt32
                switch byte {
                case 0x30...0x39: digit = UInt32(byte - 0x30)
                case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
                case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
                default: throw error("invalid \\u escape")
                }
                result = result << 4 | digit
                index += 1
            }
            return result
        }

        mutating func parseString() throws(CodecError) -> String {
            index += 1
            let start = index
            // Fast path: no escapes.
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                    index += 1
                    guard let string = String(validating: slice, as: UTF8.self) else { throw error("invalid UTF-8") }
                    return string
                }
                if byte == UInt8(ascii: "\\") || byte < 0x20 { break }
                index += 1
            }
            var scalars: [UInt8] = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    guard let string = String(validating: scalars, as: UTF8.self) else { throw error("invalid UTF-8") }
                    return string
                case UInt8(ascii: "\\"):
                    index += 1
                    guard index < bytes.count else { throw error("truncated escape") }
                    let escaped = bytes[index]
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "\""): scalars.append(0x22)
                    case UInt8(ascii: "\\"): scalars.append(0x5C)
                    case UInt8(ascii: "/"): scalars.append(0x2F)
                    case UInt8(ascii: "b"): scalars.append(0x08)
                    case UInt8(ascii: "f"): scalars.append(0x0C)
                    case UInt8(ascii: "n"): scalars.append(0x0A)
                    case UInt8(ascii: "r"): scalars.append(0x0D)
                    case UInt8(ascii: "t"): scalars.append(0x09)
                    case UInt8(ascii: "u"):
                        var code = try parseHex4()
                        if (0xD800..<0xDC00).contains(code) {
                            guard index + 2 <= bytes.count, bytes[index] == 0x5C, bytes[index + 1] == UInt8(ascii: "u")
                            else { throw error("unpaired surrogate") }
                            index += 2
                            let low = try parseHex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate") }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00..<0xE000).contains(code) {
                            throw error("unpaired surrogate")
                        }
                        guard let scalar = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
                        scalars.append(contentsOf: String(Character(scalar)).utf8)
                    default: throw error("invalid escape")
                    }
                default:
                    guard byte >= 0x20 else { throw error("control character in string") }
                    scalars.append(byte)
                    index += 1
                }
            }
            throw error("unterminated string")
        }
    }
}
