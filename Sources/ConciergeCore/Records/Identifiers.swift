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

    /// Reads a UUID text in either case; `nil` when it is not a UUID.
    public init?(_ text: String) {
        guard let uuid = UUID(uuidString: text) else { return nil }
        self.init(uuid)
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

    public var uuid: UUID {
        let b = bytes
        return UUID(
            uuid: (
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
            ))
    }

    /// The lower-case UUID text.
    public var description: String { uuid.uuidString.lowercased() }

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
    public var type: RecordType
    public var id: RecordID

    public init(type: RecordType, id: RecordID) {
        self.type = type
        self.id = id
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
