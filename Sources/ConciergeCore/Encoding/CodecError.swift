/// An error decoding or encoding Concierge data: malformed JSON, a float, a missing or mistyped
/// member.
public struct CodecError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, machine-readable kind of codec failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }
        /// The bytes are not JSON.
        public static let malformedJSON = Code("malformedJSON")
        /// A number with a fraction or exponent; Concierge has no floats.
        public static let floatNotAllowed = Code("floatNotAllowed")
        /// A required member is missing.
        public static let missingMember = Code("missingMember")
        /// A member has the wrong type or an impossible value.
        public static let invalidValue = Code("invalidValue")
        /// The compact binary form is truncated or corrupt.
        public static let malformedBinary = Code("malformedBinary")
        public var description: String { rawValue }
    }

    public var code: Code
    /// A message safe to show: it names members and positions, never their contents.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
