import ConciergeCore
import Crypto
import Foundation

/// A contact on a channel as an integration hands it over (`POST /v1/integrations/contacts`,
/// docs/intake.md): an inbound or outbound e-mail, call, SMS, chat or social message, letter,
/// video call or field visit, with the channel's own id, the customer's contact point, and the
/// channel's details.
struct IntakeContact: Sendable, Hashable {
    /// The longest body taken in, in UTF-8 bytes.
    static let bodyLimit = 65_536
    /// The members a contact may have; any other is refused (`unknownField`), so that a newer
    /// gateway's field is never silently dropped.
    static let members: Set<String> = [
        "channel", "channelId", "direction", "from", "to", "senderName", "network", "at", "subject", "body",
        "caseReference", "email", "call",
    ]

    var channel: Channel
    /// The channel's own id (Message-ID, call id, chat message id): the entry's id, so that a
    /// delivery repeated is one entry.
    var channelID: String
    var direction: String
    /// The customer's contact point as written: the sender of an inbound contact, the recipient of
    /// an outbound one.
    var customerPoint: String
    var senderName: String?
    /// The social network of a `social` contact (`twitter`, `instagram`, ...).
    var network: String?
    /// When it happened, in milliseconds since 1970 (default: when it is taken in).
    var atMillis: Int64?
    var subject: String?
    var body: String?
    /// A case the gateway found named in the contact (a reply address, a reference it parsed).
    var caseReference: String?
    var email: MessageEntry.EmailDetails?
    var call: MessageEntry.CallDetails?

    var inbound: Bool { direction == MessageDirection.inbound }

    /// Reads a request body.
    /// - Throws: ``SyncError``: `unknownField` for a member not in ``members``, `malformedRequest`
    ///   for a missing or mistyped one or an unknown channel or direction, `payloadTooLarge` for a
    ///   body over ``bodyLimit``.
    init(_ body: [String: Value]) throws(SyncError) {
        if let unknown = body.keys.filter({ !Self.members.contains($0) }).sorted().first {
            throw SyncError(.unknownField, "a contact has no member \"\(unknown)\"")
        }
        func text(_ key: String) throws(SyncError) -> String? {
            guard let value = body[key], value != .null else { return nil }
            guard let text = value.stringValue else { throw SyncError(.malformedRequest, "\(key) must be a string") }
            return text
        }
        guard let channel = try text("channel").map(Channel.init), Channel.all.contains(channel) else {
            throw SyncError(
                .malformedRequest,
                "channel must be one of \(Channel.all.map(\.rawValue).sorted().joined(separator: ", "))")
        }
        guard let channelID = try text("channelId"), !channelID.isEmpty, channelID.utf8.count <= 998 else {
            throw SyncError(.malformedRequest, "a contact needs its channel's own id (channelId), at most 998 bytes")
        }
        let direction = try text("direction") ?? MessageDirection.inbound
        guard [MessageDirection.inbound, MessageDirection.outbound].contains(direction) else {
            throw SyncError(.malformedRequest, "direction must be inbound or outbound")
        }
        let point = try direction == MessageDirection.inbound ? text("from") : text("to")
        guard let point, !point.isEmpty else {
            throw SyncError(
                .malformedRequest,
                "a contact names the customer's contact point: from (inbound) or to (outbound)")
        }
        self.channel = channel
        self.channelID = channelID
        self.direction = direction
        customerPoint = point
        senderName = try text("senderName") ?? Self.displayName(inAddress: point)
        network = try text("network")
        if let at = body["at"], at != .null {
            guard let millis = at.intValue, millis > 0 else {
                throw SyncError(.malformedRequest, "at must be milliseconds since 1970")
            }
            atMillis = millis
        }
        subject = try text("subject")
        self.body = try text("body")
        if let text = self.body, text.utf8.count > Self.bodyLimit {
            throw SyncError(.payloadTooLarge, "a contact's body has at most \(Self.bodyLimit) bytes")
        }
        if let subject, subject.utf8.count > 998 {
            throw SyncError(.payloadTooLarge, "a subject has at most 998 bytes")
        }
        caseReference = try text("caseReference")
        if let details = body["email"], details != .null {
            guard let object = details.objectValue else {
                throw SyncError(.malformedRequest, "email must be an object")
            }
            let references = object["references"]?.arrayValue ?? []
            guard references.allSatisfy({ $0.stringValue != nil }) else {
                throw SyncError(.malformedRequest, "email.references must be strings")
            }
            email = MessageEntry.EmailDetails(
                subject: subject, messageID: object["messageId"]?.stringValue,
                inReplyTo: object["inReplyTo"]?.stringValue, references: references.compactMap(\.stringValue))
        } else if channel == .email {
            email = MessageEntry.EmailDetails(subject: subject, messageID: channelID)
        }
        if channel == .email, email?.messageID == nil { email?.messageID = channelID }
        if let details = body["call"], details != .null {
            guard let object = details.objectValue else { throw SyncError(.malformedRequest, "call must be an object") }
            if let seconds = object["durationSeconds"], seconds != .null, (seconds.intValue ?? -1) < 0 {
                throw SyncError(.malformedRequest, "call.durationSeconds must be a whole number of seconds")
            }
            call = MessageEntry.CallDetails(
                durationSeconds: object["durationSeconds"]?.intValue, outcome: object["outcome"]?.stringValue)
        }
    }

    /// The name in an address written `Anna Example <anna@example.com>` (quotes dropped).
    static func displayName(inAddress written: String) -> String? {
        guard let open = written.lastIndex(of: "<") else { return nil }
        let name = written[..<open].trimmingCharacters(in: .whitespaces).trimmingCharacters(
            in: CharacterSet(charactersIn: "\""))
        return name.isEmpty ? nil : name
    }

    /// The customer's contact point, read the one way the server matches it.
    /// - Throws: ``SyncError`` `malformedRequest` when it cannot be one (an e-mail contact from
    ///   something that is no address, a social contact without its network).
    func contactPoint(region: String?) throws(SyncError) -> ContactPoint {
        switch channel {
        case .email:
            guard let point = ContactPoint.email(customerPoint) else {
                throw SyncError(.malformedRequest, "\(inbound ? "from" : "to") is not an e-mail address")
            }
            return point
        case .social:
            guard let network, let point = ContactPoint.social(network: network, handle: customerPoint) else {
                throw SyncError(.malformedRequest, "a social contact names its network and the customer's handle")
            }
            return point
        default:
            // Phone, SMS, and channels whose gateways name the customer by a number or an address.
            if customerPoint.contains("@"), let point = ContactPoint.email(customerPoint) { return point }
            return ContactPoint.phone(customerPoint, region: region)
        }
    }

    /// The set id of the contact: the same channel id always gives the same id, so two deliveries
    /// at once cannot both be stored.
    var seq: UInt64 {
        // The first 63 bits of SHA-256 over the channel and its id (a positive integer in every engine).
        let digest = SHA256.hash(data: Array("\(channel.rawValue)\u{0}\(channelID)".utf8))
        let hash = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return max(hash & 0x7FFF_FFFF_FFFF_FFFF, 1)
    }

    /// The timeline entry's id: the channel and its own id.
    var entryID: EntryID { EntryID("\(channel.rawValue):\(channelID)") }
}
