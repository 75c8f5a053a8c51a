import Foundation

/// The id of a replica (one enrolled device), minted by the server as a UUID and never reused.
///
/// Stored as two 64-bit halves so that comparing two ids costs two integer comparisons. Their
/// order is the order of the lower-case UUID texts, byte by byte (hex digits and dashes sit at
/// the same positions, so text order and big-endian byte order agree).
public struct ReplicaID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let high: UInt64
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Reads a UUID text (`8-4-4-4-12` hex digits) in either case; `nil` when it is not one.
    public init?(_ text: String) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        var digits = 0
        var position = 0
        for byte in text.utf8 {
            defer { position += 1 }
            if position == 8 || position == 13 || position == 18 || position == 23 {
                guard byte == UInt8(ascii: "-") else { return nil }
                continue
            }
            let nibble: UInt64
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = UInt64(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = UInt64(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = UInt64(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            if digits < 16 { high = high << 4 | nibble } else { low = low << 4 | nibble }
            digits += 1
        }
        guard position == 36, digits == 32 else { return nil }
        self.init(high: high, low: low)
    }

    public init(_ uuid: UUID) {
        let bytes = uuid.uuid
        self.high = withUnsafeBytes(of: bytes) { raw in raw.prefix(8).reduce(0) { $0 << 8 | UInt64($1) } }
        self.low = withUnsafeBytes(of: bytes) { raw in raw.suffix(8).reduce(0) { $0 << 8 | UInt64($1) } }
    }

    /// A fresh random id, as the server mints at enrolment.
    public static func random() -> ReplicaID { ReplicaID(UUID()) }

    /// The UUID's sixteen bytes, big-endian.
    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
    }

    /// Appends the sixteen bytes, big-endian.
    func write(into bytes: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: high >> shift)) }
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: low >> shift)) }
    }

    public var uuid: UUID {
        let b = bytes
        return UUID(
            uuid: (
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
            ))
    }

    /// The lower-case UUID text.
    public var description: String {
        String(unsafeUninitializedCapacity: 36) { writeText(into: $0) }
    }

    /// Appends the lower-case UUID text (36 bytes) to `out`.
    func appendText(to out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: 36))
        out.withUnsafeMutableBufferPointer { buffer in
            _ = writeText(into: UnsafeMutableBufferPointer(rebasing: buffer[start...]))
        }
    }

    /// Writes the lower-case UUID text at the start of `buffer` (at least 36 bytes); returns 36.
    private func writeText(into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let hex: StaticString = "0123456789abcdef"
        var index = 0
        for position in 0..<32 {
            if position == 8 || position == 12 || position == 16 || position == 20 {
                buffer[index] = UInt8(ascii: "-")
                index += 1
            }
            let value = position < 16 ? high : low
            buffer[index] = hex.utf8Start[Int((value >> UInt64(60 - 4 * (position % 16))) & 0xF)]
            index += 1
        }
        return index
    }

    public static func < (lhs: ReplicaID, rhs: ReplicaID) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }
}

/// Declares a small string-backed identifier type.
public protocol StringIdentifier: Hashable, Comparable, Sendable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    var rawValue: String { get }
    init(_ rawValue: String)
}

extension StringIdentifier {
    public init(stringLiteral value: String) { self.init(value) }
    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { utf8Precedes(lhs.rawValue, rhs.rawValue) }
}

/// The id of a principal: a customer, an agent, a technician, a supervisor or an integration.
public struct PrincipalID: StringIdentifier {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
}

/// The id of a provider (the company whose service cases these are).
public struct ProviderID: StringIdentifier {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
}

/// A record type, such as `case` or `preferences`.
public struct RecordType: StringIdentifier {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
}

/// The id of a record within its type; cases use lower-case UUIDs.
public struct RecordID: StringIdentifier {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
}

/// The id of a log entry. An entry that came from a channel carries the channel's own id
/// (an e-mail Message-ID, a call id), so a retried delivery stays one entry.
public struct EntryID: StringIdentifier {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
}

/// The address of a record: its type and its id.
public struct RecordKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let type: RecordType
    public let id: RecordID
    /// Record keys are looked up on every merge: their hash is computed once.
    private let cachedHash: Int

    public init(type: RecordType, id: RecordID) {
        self.type = type
        self.id = id
        var hasher = Hasher()
        hasher.combine(type)
        hasher.combine(id)
        self.cachedHash = hasher.finalize()
    }

    public static func == (lhs: RecordKey, rhs: RecordKey) -> Bool {
        lhs.cachedHash == rhs.cachedHash && lhs.id == rhs.id && lhs.type == rhs.type
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(cachedHash)
    }

    public static func < (lhs: RecordKey, rhs: RecordKey) -> Bool {
        lhs.type != rhs.type ? lhs.type < rhs.type : lhs.id < rhs.id
    }

    public var description: String { "\(type)/\(id)" }
}

/// The role a principal acts in. Extensible: a replica keeps roles it does not know.
public struct Role: StringIdentifier {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public static let customer = Role("customer")
    public static let agent = Role("agent")
    public static let specialist = Role("specialist")
    public static let technician = Role("technician")
    public static let supervisor = Role("supervisor")
    /// A channel integration (e-mail gateway, telephony, social intake) acting for a customer.
    public static let integration = Role("integration")
    /// The server itself, for entries it writes (a follow-up link, say).
    public static let system = Role("system")

    /// Agents, specialists, technicians and supervisors of the provider.
    public var isStaff: Bool { [.agent, .specialist, .technician, .supervisor].contains(self) }

    /// The role with its article, for messages: "an agent", "a customer".
    public var withArticle: String { Words.withArticle(rawValue) }
}

/// Small helpers for messages people read.
public enum Words {
    /// `word` after "a" or "an", by its first letter: "an agent", "a customer", "an integration".
    public static func withArticle(_ word: String) -> String {
        guard let first = word.lowercased().first else { return word }
        return ("aeiou".contains(first) ? "an " : "a ") + word
    }
}

/// Who made a write or an entry: recorded on every write, so rules that depend on the author are
/// functions of merged state alone.
public struct Author: Hashable, Sendable, CustomStringConvertible {
    public var principal: PrincipalID
    public var role: Role

    public init(principal: PrincipalID, role: Role) {
        self.principal = principal
        self.role = role
    }

    public var description: String { "\(principal) (\(role))" }
}
