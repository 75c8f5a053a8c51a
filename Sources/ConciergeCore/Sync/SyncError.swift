/// An error of the sync protocol: why the server refused a change set or a request, or why the
/// client set one aside. Codes are stable strings shared by server, clients and docs.
public struct SyncError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable code. Extensible: a client keeps codes it does not know, as final rejections.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }

        /// Stamped more than the drift bound ahead of the server's clock. Retryable: restamp.
        public static let clockSkew = Code("clockSkew")
        /// A schema version newer than the server's. Retryable: the server will be upgraded.
        public static let unsupportedVersion = Code("unsupportedVersion")
        /// Too many requests. Retryable.
        public static let rateLimited = Code("rateLimited")
        /// The server could not finish the request. Retryable.
        public static let unavailable = Code("unavailable")
        /// Outside the author's scope. Final.
        public static let outOfScope = Code("outOfScope")
        /// A field the author's role may not write. Final.
        public static let forbiddenField = Code("forbiddenField")
        /// A status change its author may not make. Final.
        public static let invalidTransition = Code("invalidTransition")
        /// A proactive outbound contact the customer's contact preferences do not allow; the message
        /// starts with the rule that refused it (`channelAllowed`, `consent`, `quietHours`). Final.
        public static let contactNotAllowed = Code("contactNotAllowed")
        /// A merge the records do not allow: into itself, into a record that does not exist or is
        /// another type, or of two cases of different customers. Final.
        public static let invalidMerge = Code("invalidMerge")
        /// A record type or field the server does not know. Final.
        public static let unknownField = Code("unknownField")
        /// A stamp not carrying the set's replica id, or two changes of one set with one stamp. Final.
        public static let invalidStamp = Code("invalidStamp")
        /// Two different writes with one stamp. Final.
        public static let stampReused = Code("stampReused")
        /// A change-set id already used for other content (a replica restored from a copy). Final.
        public static let seqReused = Code("seqReused")
        /// The client is older than the server's minimum version. Final until the app is updated.
        public static let upgradeRequired = Code("upgradeRequired")
        /// The record left the replica's scope before the set was accepted. Final (set by the client).
        public static let leftScope = Code("leftScope")
        /// Data that does not decode. Final.
        public static let malformed = Code("malformed")
        /// A value or a log entry larger than the server's limits (``ContentLimits``). Final.
        public static let tooLarge = Code("tooLarge")

        // Request-level codes: the answer to a whole request, not to one change set.

        /// No valid access token (missing, expired, forged, or signed by an unknown key).
        public static let unauthorized = Code("unauthorized")
        /// The device was revoked; its local data stays, its pending sets cannot be sent.
        public static let deviceRevoked = Code("deviceRevoked")
        /// The enrolment code is unknown, used or expired.
        public static let invalidCode = Code("invalidCode")
        /// A cursor that is garbage or ahead of the server's log.
        public static let invalidCursor = Code("invalidCursor")
        /// The request body is larger than the server accepts.
        public static let payloadTooLarge = Code("payloadTooLarge")
        /// More change sets in one push than the server accepts.
        public static let batchTooLarge = Code("batchTooLarge")
        /// The request's body is not JSON, or not the expected shape.
        public static let malformedRequest = Code("malformedRequest")
        /// The request's content type is not `application/json`.
        public static let unsupportedMediaType = Code("unsupportedMediaType")
        /// No such route or resource.
        public static let notFound = Code("notFound")
        /// The resource belongs to someone else (a contact point of another customer).
        public static let conflict = Code("conflict")
        /// The server failed; the request may be retried.
        public static let internalError = Code("internalError")

        /// Whether a set rejected with this code stays in the outbox to be sent again.
        public var isRetryable: Bool {
            [.clockSkew, .unsupportedVersion, .rateLimited, .unavailable, .internalError].contains(self)
        }

        public var description: String { rawValue }
    }

    public var code: Code
    /// A message safe to show to the user: never a token or personal data.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var isRetryable: Bool { code.isRetryable }
    public var description: String { "\(code): \(message)" }
}
