import Foundation

/// A way to reach a customer, written the one way the server matches it by: a phone number in
/// E.164 (`+49228622243`), an e-mail address trimmed and in lower case, a social handle as
/// `network:handle` in lower case, or an enrolled device by its replica id.
///
/// A phone number that cannot be read is kept as written and marked ``parsed`` `false`: it still
/// matches the same text, never another number, and nothing fails on it.
public struct ContactPoint: Hashable, Sendable, CustomStringConvertible {
    public struct Kind: StringIdentifier {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }

        public static let phone = Kind("phone")
        public static let email = Kind("email")
        public static let social = Kind("social")
        public static let device = Kind("device")
    }

    public var kind: Kind
    public var value: String
    /// Whether the value is in its normal form (`false`: a phone number kept as written).
    public var parsed: Bool

    public init(kind: Kind, value: String, parsed: Bool = true) {
        self.kind = kind
        self.value = value
        self.parsed = parsed
    }

    public var description: String { "\(kind):\(value)" }

    /// A phone number as written (`0228 622243`, `+49 (228) 62 22 43`, `0049228622243`), read in
    /// `region` when it has no country code.
    public static func phone(_ written: String, region: String?) -> ContactPoint {
        if let number = PhoneNumber.e164(written, region: region) {
            return ContactPoint(kind: .phone, value: number)
        }
        return ContactPoint(kind: .phone, value: written.trimmingCharacters(in: .whitespacesAndNewlines), parsed: false)
    }

    /// An e-mail address (`Anna <Anna@Example.com>` or the bare address), trimmed and in lower
    /// case; `nil` unless it has one `@` with text on both sides.
    public static func email(_ written: String) -> ContactPoint? {
        var address = written.trimmingCharacters(in: .whitespacesAndNewlines)
        if let open = address.lastIndex(of: "<"), let close = address.lastIndex(of: ">"), open < close {
            address = String(address[address.index(after: open)..<close]).trimmingCharacters(
                in: .whitespacesAndNewlines)
        }
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, !address.contains(where: \.isWhitespace)
        else { return nil }
        return ContactPoint(kind: .email, value: address.lowercased())
    }

    /// A social handle on a network (`twitter`, `@Anna`): `twitter:anna`.
    public static func social(network: String, handle: String) -> ContactPoint? {
        let network = network.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        var handle = handle.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        if handle.hasPrefix("@") { handle.removeFirst() }
        guard !network.isEmpty, !handle.isEmpty, !network.contains(":") else { return nil }
        return ContactPoint(kind: .social, value: "\(network):\(handle)")
    }
}

/// Phone numbers in E.164: a `+`, the country code and the national number, 8 to 15 digits.
public enum PhoneNumber {
    /// Country codes, and whether national numbers start with a trunk prefix `0` that the
    /// international form drops (Italy keeps it), by ISO 3166 alpha-2 region.
    static let regions: [String: (code: String, trunkZero: Bool)] = [
        "AT": ("43", true), "BE": ("32", true), "CH": ("41", true), "DE": ("49", true), "DK": ("45", false),
        "ES": ("34", false), "FR": ("33", true), "GB": ("44", true), "IE": ("353", true), "IT": ("39", false),
        "LU": ("352", false), "NL": ("31", true), "NO": ("47", false), "PL": ("48", false), "PT": ("351", false),
        "SE": ("46", true), "US": ("1", false), "CA": ("1", false),
    ]

    /// Whether `region` is one whose national numbers can be read.
    public static func isKnown(region: String) -> Bool { regions[region.uppercased()] != nil }

    /// The E.164 form of a number as written, or `nil` when it cannot be read: letters, a national
    /// number without a known region, or too few or too many digits.
    public static func e164(_ written: String, region: String?) -> String? {
        var text = Substring(written.trimmingCharacters(in: .whitespacesAndNewlines))
        var international = false
        if text.hasPrefix("+") {
            international = true
            text = text.dropFirst()
        }
        // Separators people write: spaces, dashes, dots, slashes, brackets.
        var digits = ""
        for character in text {
            if character.isASCII, character.isNumber {
                digits.append(character)
            } else if !" -./()\u{00A0}".contains(character) {
                return nil
            }
        }
        if !international, digits.hasPrefix("00") {
            international = true
            digits.removeFirst(2)
        }
        if !international {
            guard let region = region.flatMap({ regions[$0.uppercased()] }) else { return nil }
            if region.trunkZero {
                guard digits.hasPrefix("0"), !digits.hasPrefix("00") else { return nil }
                digits.removeFirst()
            }
            if region.code == "1", digits.count == 11, digits.hasPrefix("1") { digits.removeFirst() }
            digits = region.code + digits
        }
        guard (8...15).contains(digits.count), !digits.hasPrefix("0") else { return nil }
        return "+" + digits
    }
}
