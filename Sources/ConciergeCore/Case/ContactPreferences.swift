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
        if let allowed = allowedChannels, !allowed.contains(channel) {
            return "the customer does not allow contact by \(channel)"
        }
        if purpose != "service", !consents.contains(purpose) {
            return "the customer has not consented to \(purpose) contact"
        }
        if let quiet = quietHours {
            let minutesUTC = Int((atMillis / 60_000) % 1440)
            let local = ((minutesUTC + utcOffsetMinutes) % 1440 + 1440) % 1440
            let inQuiet =
                quiet.start <= quiet.end
                ? (local >= quiet.start && local < quiet.end)
                : (local >= quiet.start || local < quiet.end)
            if inQuiet { return "the contact falls in the customer's quiet hours" }
        }
        return nil
    }
}

extension ContactPreferences {
    public static func == (lhs: ContactPreferences, rhs: ContactPreferences) -> Bool { lhs.record == rhs.record }
    public func hash(into hasher: inout Hasher) { hasher.combine(record) }
}
