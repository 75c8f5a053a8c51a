/// An error of a replica file: it cannot be opened, is not a Concierge replica, or is damaged.
public struct ReplicaFileError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }
        /// The file is not a SQLite database, or a SQLite database of another program. It was
        /// left untouched.
        public static let foreignFile = Code("foreignFile")
        /// The file is a replica, but stored data does not decode or the database is damaged.
        public static let corrupt = Code("corrupt")
        /// The file was written by a newer version of Concierge.
        public static let newerVersion = Code("newerVersion")
        /// A file exists where a new replica was to be created.
        public static let exists = Code("exists")
        /// The database engine failed (disk full, permissions, ...).
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
