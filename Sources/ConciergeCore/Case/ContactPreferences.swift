/// A view of a customer's `preferences` record: which channels, when, and for what.
///
/// **Rule**: the server refuses a proactive outbound contact that the preferences do not allow.
public struct ContactPreferences: Hashable, Sendable {
    public let record: Record

    public init?(_ record: Record) {
        guard record.type == .preferences else { return nil }
        self.record = record
    }

    /// Channels the customer may be contacted on. With none recorded, every channel is allowed.
    public var allowedChannels: [Channel]? {
        guard let set = record.set(PreferenceFields.allowedChannels) else { return nil }
        return set.elements.map(Channel.init)
    }

    public var preferredChannel: Channel? {
        record.value(PreferenceFields.preferredChannel)?.stringValue.map(Channel.init)
    }

    /// Quiet hours as minutes of the customer's local day; the range may wrap past midnight.
    public var quietHours: (start: Int, end: Int)? {
        guard let value = record.value(PreferenceFields.quietHours),
            let start = value["start"]?.intValue, let end = value["end"]?.intValue,
            (0..<1440).contains(start), (0..<1440).contains(end)
        else { return nil }
        return (Int(start), Int(end))
    }

    public var utcOffsetMinutes: Int {
        Int(record.value(PreferenceFields.utcOffsetMinutes)?.intValue ?? 0)
    }

    /// Purposes the customer consented to.
    public var consents: [String] { record.set(PreferenceFields.consents)?.elements ?? [] }

    /// Why a proactive contact is refused, or `nil` when it is allowed.
    ///
    /// - Parameters:
    ///   - channel: the channel of the contact.
    ///   - purpose: `service` (about an open case) needs no consent; every other purpose does.
    ///   - atMillis: when the contact would happen, in milliseconds since 1970 (UTC).
    public func refusal(channel: Channel, purpose: String, atMillis: Int64) -> String? {
        check(channel: channel, purpose: purpose, atMillis: atMillis)?.message
    }

    /// The rule that refuses a proactive contact, or `nil` when every rule allows it (see
    /// ``refusal(channel:purpose:atMillis:)``).
    public func check(channel: Channel, purpose: String, atMillis: Int64) -> ContactRefusal? {
        if let allowed = allowedChannels, !allowed.contains(channel) {
            return ContactRefusal(.channelAllowed, "the customer does not allow contact by \(channel)")
        }
        if purpose != ProactiveContact.servicePurpose, !consents.contains(purpose) {
            return ContactRefusal(.consent, "the customer has not consented to \(purpose) contact")
        }
        if let quiet = quietHours {
            let minutesUTC = Int((atMillis / 60_000) % 1440)
            let local = ((minutesUTC + utcOffsetMinutes) % 1440 + 1440) % 1440
            let inQuiet =
                quiet.start <= quiet.end
                ? (local >= quiet.start && local < quiet.end)
                : (local >= quiet.start || local < quiet.end)
            if inQuiet { return ContactRefusal(.quietHours, "the contact falls in the customer's quiet hours") }
        }
        return nil
    }
}

/// Why a proactive contact is refused: the rule and a message for the user.
public struct ContactRefusal: Hashable, Sendable {
    /// The rule's stable name.
    public struct Rule: StringIdentifier {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }

        /// The customer allows contact on the channel (no allowed channels recorded: all are).
        public static let channelAllowed = Rule("channelAllowed")
        /// The customer consented to the contact's purpose (`service` needs no consent).
        public static let consent = Rule("consent")
        /// The contact falls outside the customer's quiet hours.
        public static let quietHours = Rule("quietHours")
    }

    public var rule: Rule
    public var message: String

    public init(_ rule: Rule, _ message: String) {
        self.rule = rule
        self.message = message
    }
}

/// When an outbound contact is proactive, and whether the customer's preferences allow it.
///
/// **Rule**: a proactive contact (an outbound message, call, reminder or notice that does not answer
/// an inbound message of the customer on the same case and channel received within the last 24
/// hours) needs the channel allowed, consent for its purpose, and a time outside the customer's
/// quiet hours. The server refuses it otherwise with `contactNotAllowed`, naming the rule; a client
/// checks the same rule early.
public enum ProactiveContact {
    /// The purpose of contact about the case itself: needs no consent.
    public static let servicePurpose = "service"
    /// How long an inbound message may be answered on its channel without counting as proactive.
    public static let answerWindowMillis: Int64 = 24 * 60 * 60 * 1000

    /// Whether an outbound contact on `channel` at `atMillis` is proactive.
    /// - Parameter customerMessages: the customer messages of the case (inbound, by its customer or
    ///   an integration on their behalf).
    public static func isProactive(channel: Channel, atMillis: Int64, customerMessages: [LogEntry]) -> Bool {
        !customerMessages.contains { message in
            let received = Int64(message.stamp.hlc.millis)
            return message.payload["channel"]?.stringValue == channel.rawValue
                && received <= atMillis && atMillis - received <= answerWindowMillis
        }
    }

    /// Why the customer's preferences refuse a proactive contact, or `nil` when they allow it. With
    /// no preferences recorded every channel is allowed at any time, and only `service` contact is.
    public static func refusal(_ preferences: ContactPreferences?, channel: Channel, purpose: String, atMillis: Int64)
        -> ContactRefusal?
    {
        if let preferences { return preferences.check(channel: channel, purpose: purpose, atMillis: atMillis) }
        guard purpose == servicePurpose else {
            return ContactRefusal(.consent, "the customer has not consented to \(purpose) contact")
        }
        return nil
    }
}

extension ContactPreferences {
    public static func == (lhs: ContactPreferences, rhs: ContactPreferences) -> Bool { lhs.record == rhs.record }
    public func hash(into hasher: inout Hasher) { hasher.combine(record) }
}
