/// Corrupt input found while merging: merge never picks a winner by content, it reports.
public struct MergeError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }
        /// Two different writes carry the same stamp.
        public static let stampReused = Code("stampReused")
        /// One field name holds two different kinds (or a register with and without history).
        public static let kindMismatch = Code("kindMismatch")
        /// Two states of different records were merged.
        public static let recordMismatch = Code("recordMismatch")
        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
