import ConciergeCore

/// A wall clock that stands still at `millis`: tests stamp deterministically with it.
public struct FixedWallClock: WallClock {
    public var millis: UInt64
    public init(millis: UInt64) { self.millis = millis }
    public func nowMillis() -> UInt64 { millis }
}
