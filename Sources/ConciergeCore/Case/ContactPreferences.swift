import Foundation

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

    /// The customer's IANA time zone, when set and known.
    public var timeZone: TimeZone? {
        record.value(PreferenceFields.timeZone)?.stringValue.flatMap(TimeZone.init(identifier:))
    }

    /// The minute of the customer's local day at `atMillis`: in their time zone (daylight saving
    /// included), else at their fixed UTC offset, else in UTC.
    public func localMinute(atMillis: Int64) -> Int {
        let offsetSeconds =
            timeZone.map { $0.secondsFromGMT(for: Date(timeIntervalSince1970: Double(atMillis) / 1000)) }
            ?? utcOffsetMinutes * 60
        let localSeconds = atMillis / 1000 + Int64(offsetSeconds)
        return Int(((localSeconds / 60) % 1440 + 1440) % 1440)
    }

    /// Whether `atMillis` falls in the customer's quiet hours.
    public func isQuiet(atMillis: Int64) -> Bool {
        guard let quiet = quietHours else { return false }
        let local = localMinute(atMillis: atMillis)
        return quiet.start <= quiet.end
            ? (local >= quiet.start && local < quiet.end) : (local >= quiet.start || local < quiet.end)
    }

    /// Purposes the customer consented to, on every channel or on some.
    public var consents: [String] {
        Set((record.set(PreferenceFields.consents)?.elements ?? []).map(ConsentEntry.purpose(ofElement:))).sorted(
            by: utf8Precedes)
    }

    /// Every consent given or withdrawn, in timeline order: the record of when, how and on which
    /// basis (the `consents` set holds what applies now).
    public var consentHistory: [ConsentEntry] {
        (record.log(PreferenceFields.consentLog)?.ordered ?? []).compactMap(ConsentEntry.init)
    }

    /// Whether the customer consents to contact for `purpose` on `channel`: the `consents` set
    /// holds the purpose (every channel) or `purpose@channel`.
    public func hasConsent(to purpose: String, on channel: Channel) -> Bool {
        guard let set = record.set(PreferenceFields.consents) else { return false }
        return set.contains(purpose) || set.contains(ConsentEntry.element(purpose, channel))
    }

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
    /// - Parameter ignoringQuietHours: an urgent service message the provider's policy lets through
    ///   quiet hours.
    public func check(channel: Channel, purpose: String, atMillis: Int64, ignoringQuietHours: Bool = false)
        -> ContactRefusal?
    {
        if let allowed = allowedChannels, !allowed.contains(channel) {
            return ContactRefusal(.channelAllowed, "the customer does not allow contact by \(channel)")
        }
        if purpose != ProactiveContact.servicePurpose, !hasConsent(to: purpose, on: channel) {
            return ContactRefusal(.consent, "the customer has not consented to \(purpose) contact by \(channel)")
        }
        if !ignoringQuietHours, isQuiet(atMillis: atMillis) {
            return ContactRefusal(.quietHours, "the contact falls in the customer's quiet hours")
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
    public static func refusal(
        _ preferences: ContactPreferences?, channel: Channel, purpose: String, atMillis: Int64,
        ignoringQuietHours: Bool = false
    ) -> ContactRefusal? {
        if let preferences {
            return preferences.check(
                channel: channel, purpose: purpose, atMillis: atMillis, ignoringQuietHours: ignoringQuietHours)
        }
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

/// Why contact is made: consent is given per purpose.
public enum ContactPurpose: String, CaseIterable, Sendable {
    /// About an open case: needs no consent.
    case service
    /// Notices (an outage, a recall).
    case notices
    case marketing
    case surveys
}

/// The shapes a customer's preferences must have: the server refuses others (`malformed`), and the
/// client checks the same before saving.
public enum PreferenceRules {
    /// What is wrong with writing `value` to the preferences' register `field`, or `nil`.
    public static func problem(writing value: Value, to field: String) -> String? {
        guard !value.isNull else { return nil }
        switch field {
        case PreferenceFields.quietHours:
            guard let start = value["start"]?.intValue, let end = value["end"]?.intValue,
                (0..<1440).contains(start), (0..<1440).contains(end), start != end,
                value.objectValue?.count == 2
            else {
                return "quiet hours are a time range: {\"start\", \"end\"} in minutes of the day, 0 to 1439, not equal"
            }
        case PreferenceFields.timeZone:
            guard let name = value.stringValue, name.contains("/") || name == "UTC",
                TimeZone(identifier: name) != nil
            else { return "\(value) is not an IANA time zone (e.g. Europe/Berlin)" }
        case PreferenceFields.utcOffsetMinutes:
            guard let minutes = value.intValue, (-14 * 60...14 * 60).contains(minutes) else {
                return "a UTC offset is whole minutes between -840 and 840"
            }
        case PreferenceFields.preferredChannel:
            return channelProblem(value.stringValue)
        default:
            break
        }
        return nil
    }

    /// What is wrong with adding `element` to the preferences' set `field`, or `nil`.
    public static func problem(adding element: String, to field: String) -> String? {
        switch field {
        case PreferenceFields.allowedChannels: return channelProblem(element)
        case PreferenceFields.consents:
            let parts = element.split(separator: "@", maxSplits: 1).map(String.init)
            if parts.count == 2, let problem = channelProblem(parts[1]) { return problem }
            guard let purpose = parts.first, ContactPurpose(rawValue: purpose) != nil else {
                return
                    "\(element) is not a purpose: \(ContactPurpose.allCases.map(\.rawValue).joined(separator: ", "))"
            }
            return nil
        default: return nil
        }
    }

    static func channelProblem(_ name: String?) -> String? {
        guard let name, Channel.all.contains(Channel(name)) else {
            return
                "\(name ?? "that") is not a channel: \(Channel.all.map(\.rawValue).sorted().joined(separator: ", "))"
        }
        return nil
    }
}

/// A change to a customer's contact preferences; empty members change nothing.
public struct PreferencesChange: Sendable {
    public var allow: [String] = []
    public var deny: [String] = []
    public var preferredChannel: String?
    /// `.some(nil)` removes the quiet hours.
    public var quietHours: (start: Int, end: Int)??
    public var timeZone: String?
    /// Purposes consented to, or withdrawn, on ``consentChannel`` (nil: every channel).
    public var consent: [String] = []
    public var withdraw: [String] = []
    public var consentChannel: String?
    public var consentBasis = "consent"
    public var consentHow = "app"
    /// When, by the device's clock.
    public var atMillis: Int64 = 0

    public init() {}

    /// Parses quiet hours written `21:00-08:00` (local time), or `none`.
    public static func quietHours(_ text: String) throws(CaseIntentError) -> (start: Int, end: Int)? {
        if text == "none" { return nil }
        let parts = text.split(separator: "-").map { $0.split(separator: ":").compactMap { Int($0) } }
        guard parts.count == 2,
            parts.allSatisfy({ $0.count == 2 && (0..<24).contains($0[0]) && (0..<60).contains($0[1]) })
        else { throw CaseIntentError(.malformed, "quiet hours are a time range like 21:00-08:00") }
        return (parts[0][0] * 60 + parts[0][1], parts[1][0] * 60 + parts[1][1])
    }
}

extension Editor {
    /// Changes the customer's contact preferences (the customer, or a supervisor for them), checking
    /// each value as the server does (``PreferenceRules``).
    public mutating func changePreferences(of customer: PrincipalID, _ change: PreferencesChange) throws {
        guard author.principal == customer || author.role == .supervisor else {
            throw CaseIntentError(.outOfScope, "only the customer (or a supervisor) changes their preferences")
        }
        let key = RecordKey(type: .preferences, id: RecordID(customer.rawValue))
        var writes: [(String, Value)] = []
        if let preferred = change.preferredChannel {
            writes.append((PreferenceFields.preferredChannel, .string(preferred)))
        }
        if let quiet = change.quietHours {
            writes.append(
                (
                    PreferenceFields.quietHours,
                    quiet.map { .object(["start": .int(Int64($0.start)), "end": .int(Int64($0.end))]) } ?? .null
                ))
        }
        if let zone = change.timeZone { writes.append((PreferenceFields.timeZone, .string(zone))) }
        for (field, value) in writes {
            if let problem = PreferenceRules.problem(writing: value, to: field) {
                throw CaseIntentError(.malformed, problem)
            }
        }
        let adds = change.allow.map { (PreferenceFields.allowedChannels, $0) }
        for (field, element) in adds {
            if let problem = PreferenceRules.problem(adding: element, to: field) {
                throw CaseIntentError(.malformed, problem)
            }
        }
        for (field, value) in writes { try write(value, to: field, of: key) }
        for (field, element) in adds { try add(element, to: field, of: key) }
        for channel in change.deny { try remove(channel, from: PreferenceFields.allowedChannels, of: key) }
        for (purposes, given) in [(change.consent, true), (change.withdraw, false)] {
            for purpose in purposes {
                try recordConsent(
                    ConsentEntry(
                        purpose: purpose, channel: change.consentChannel.map(Channel.init), given: given,
                        basis: change.consentBasis, how: change.consentHow, atMillis: change.atMillis),
                    of: customer)
            }
        }
    }
}

/// Consent given or withdrawn (a `consent` entry of the preferences' ``PreferenceFields/consentLog``):
/// for which purpose, on which channel (none: every channel), when, how and on which legal basis.
public struct ConsentEntry: TimelineEntry {
    public static let kind = "consent"
    /// The legal bases consent may rest on.
    public static let bases: Set<String> = ["consent", "contract", "legitimateInterest", "legalObligation"]
    /// How it was given or withdrawn.
    public static let ways: Set<String> = ["app", "web", "phone", "email", "letter", "inPerson"]

    public var purpose: String
    public var channel: Channel?
    public var given: Bool
    public var basis: String
    public var how: String
    public var atMillis: Int64
    /// Who recorded it (set when read from the log).
    public var author: Author?

    public init(
        purpose: String, channel: Channel?, given: Bool, basis: String = "consent", how: String, atMillis: Int64
    ) {
        self.purpose = purpose
        self.channel = channel
        self.given = given
        self.basis = basis
        self.how = how
        self.atMillis = atMillis
    }

    public init?(_ entry: LogEntry) {
        guard entry.kind == Self.kind else { return nil }
        self.init(payload: entry.payload, stampMillis: Int64(entry.stamp.hlc.millis))
        author = entry.author
    }

    /// The consent a payload describes, if it names a purpose and whether it is given.
    public init?(payload: [String: Value], stampMillis: Int64 = 0) {
        guard let purpose = payload["purpose"]?.stringValue, let given = payload["given"]?.boolValue else {
            return nil
        }
        self.init(
            purpose: purpose, channel: payload["channel"]?.stringValue.map(Channel.init), given: given,
            basis: payload["basis"]?.stringValue ?? "consent", how: payload["how"]?.stringValue ?? "app",
            atMillis: payload["at"]?.intValue ?? stampMillis)
    }

    public var payload: [String: Value] {
        var payload: [String: Value] = [
            "purpose": .string(purpose), "given": .bool(given), "basis": .string(basis), "how": .string(how),
            "at": .int(atMillis),
        ]
        if let channel { payload["channel"] = .string(channel.rawValue) }
        return payload
    }

    /// The `consents` set's element for a purpose on a channel (`marketing@email`), or on every
    /// channel (`marketing`).
    public static func element(_ purpose: String, _ channel: Channel?) -> String {
        channel.map { "\(purpose)@\($0.rawValue)" } ?? purpose
    }

    /// The purpose a `consents` element names.
    public static func purpose(ofElement element: String) -> String {
        String(element.split(separator: "@", maxSplits: 1).first ?? "")
    }

    /// The elements of the `consents` set this entry adds (given) or removes (withdrawn): a
    /// withdrawal on one channel also withdraws consent given for every channel.
    public var element: String { Self.element(purpose, channel) }

    /// What is wrong with a consent entry's payload, or `nil`.
    public static func problem(kind: String, payload: [String: Value]) -> String? {
        guard kind == Self.kind else { return "the consent log holds consent entries only" }
        guard let purpose = payload["purpose"]?.stringValue, let known = ContactPurpose(rawValue: purpose) else {
            return "a consent names a purpose: \(ContactPurpose.allCases.map(\.rawValue).joined(separator: ", "))"
        }
        if known == .service { return "contact about the customer's own cases needs no consent" }
        guard payload["given"]?.boolValue != nil, payload["at"]?.intValue != nil else {
            return "a consent says whether it is given and when (at, ms since 1970)"
        }
        guard let basis = payload["basis"]?.stringValue, bases.contains(basis) else {
            return "a consent's legal basis is one of \(bases.sorted().joined(separator: ", "))"
        }
        guard let how = payload["how"]?.stringValue, ways.contains(how) else {
            return "a consent says how it was given: \(ways.sorted().joined(separator: ", "))"
        }
        if let channel = payload["channel"] { return PreferenceRules.channelProblem(channel.stringValue) }
        return nil
    }
}

extension Editor {
    /// Records consent given or withdrawn (the customer, or a supervisor who took it by phone or
    /// letter), checked as the server checks it: the entry in the log (when, how, basis) and the
    /// `consents` set it changes, in one change set.
    @discardableResult
    public mutating func recordConsent(_ consent: ConsentEntry, of customer: PrincipalID) throws -> EntryID {
        guard author.principal == customer || author.role == .supervisor else {
            throw CaseIntentError(.outOfScope, "only the customer (or a supervisor) records their consent")
        }
        if let problem = ConsentEntry.problem(kind: ConsentEntry.kind, payload: consent.payload) {
            throw CaseIntentError(.malformed, problem)
        }
        let key = RecordKey(type: .preferences, id: RecordID(customer.rawValue))
        if consent.given {
            try add(consent.element, to: PreferenceFields.consents, of: key)
        } else {
            let held = try record(key)?.set(PreferenceFields.consents)?.elements ?? []
            for element in [consent.element, consent.purpose] where held.contains(element) {
                try remove(element, from: PreferenceFields.consents, of: key)
            }
        }
        return try append(ConsentEntry.kind, to: PreferenceFields.consentLog, of: key, payload: consent.payload)
    }
}
