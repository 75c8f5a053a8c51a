/// An error of the server's storage, wrapping the engine's own error where there is one.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }
        /// The thing looked up does not exist.
        public static let notFound = Code("notFound")
        /// It exists already.
        public static let conflict = Code("conflict")
        /// Stored data does not decode: a bug or a damaged database.
        public static let corrupt = Code("corrupt")
        /// The database engine failed.
        public static let database = Code("database")
        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String
    public var underlying: (any Error)?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String { "\(code): \(message)" }
}
