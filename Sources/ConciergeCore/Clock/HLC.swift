import Foundation

/// A hybrid logical clock value: physical milliseconds since 1970 in the upper 48 bits and a
/// counter in the lower 16, packed into one 64-bit integer so that integer order is clock order.
public struct HLC: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public init(millis: UInt64, counter: UInt16 = 0) {
        self.rawValue = millis << 16 | UInt64(counter)
    }

    /// The physical part, in milliseconds since 1970.
    public var millis: UInt64 { rawValue >> 16 }
    /// The logical part.
    public var counter: UInt16 { UInt16(truncatingIfNeeded: rawValue) }

    public static func < (lhs: HLC, rhs: HLC) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The decimal text of the packed value, the form every encoding uses (JavaScript numbers
    /// lose 64-bit integers).
    public var description: String { String(rawValue) }

    /// Reads the decimal text form: digits only, no leading zeros.
    public init?(_ text: String) {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            text == "0" || text.utf8.first != 0x30,
            let raw = UInt64(text)
        else { return nil }
        self.rawValue = raw
    }
}

/// A totally ordered write stamp: a clock value and the replica that made it.
///
/// **Rule**: stamps order by `hlc`, then by replica id (its lower-case UUID text, byte by byte).
public struct Stamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var hlc: HLC
    public var replica: ReplicaID

    public init(hlc: HLC, replica: ReplicaID) {
        self.hlc = hlc
        self.replica = replica
    }

    @inlinable
    public static func < (lhs: Stamp, rhs: Stamp) -> Bool {
        if lhs.hlc.rawValue != rhs.hlc.rawValue { return lhs.hlc.rawValue < rhs.hlc.rawValue }
        return lhs.replica < rhs.replica
    }

    public var description: String { "\(hlc)@\(replica)" }
}

/// Where a clock reads the wall time. Injected, so tests and the pure core stay deterministic.
public protocol WallClock: Sendable {
    /// Milliseconds since 1970.
    func nowMillis() -> UInt64
}

/// The system's wall clock.
public struct SystemWallClock: WallClock {
    public init() {}
    public func nowMillis() -> UInt64 {
        UInt64(max(0, (Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }
}

/// The classic hybrid logical clock on the packed 64-bit value.
///
/// A local event is `hlc = max(hlc + 1, wall << 16)`; receiving a stamp `r` is
/// `hlc = max(hlc + 1, r + 1, wall << 16)`. A counter overflow carries into the milliseconds, which
/// the packed arithmetic does by itself.
public struct HybridLogicalClock: Hashable, Sendable {
    /// The last value handed out or received.
    public private(set) var latest: HLC

    public init(latest: HLC = HLC(rawValue: 0)) {
        self.latest = latest
    }

    /// Advances for a local event and returns the new value.
    public mutating func tick(wallMillis: UInt64) -> HLC {
        latest = HLC(rawValue: max(latest.rawValue &+ 1, wallMillis << 16))
        return latest
    }

    /// Advances past a received value `r`; run once per received batch with its largest stamp.
    public mutating func receive(_ received: HLC, wallMillis: UInt64) {
        latest = HLC(rawValue: max(latest.rawValue &+ 1, received.rawValue &+ 1, wallMillis << 16))
    }
}

/// The server's bound on how far ahead of its wall clock a stamp may be.
public struct DriftBound: Hashable, Sendable {
    /// The allowed lead, in milliseconds.
    public var milliseconds: UInt64

    /// The default bound: 60 seconds.
    public static let `default` = DriftBound(milliseconds: 60_000)

    public init(milliseconds: UInt64) { self.milliseconds = milliseconds }

    /// Whether `hlc`'s millisecond part is more than the bound ahead of `serverMillis`.
    public func isTooFarAhead(_ hlc: HLC, serverMillis: UInt64) -> Bool {
        hlc.millis > serverMillis &+ milliseconds
    }
}
