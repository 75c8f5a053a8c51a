/// A contact channel. Extensible: a replica keeps channels it does not know.
public struct Channel: StringIdentifier {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public static let app = Channel("app")
    public static let chat = Channel("chat")
    public static let email = Channel("email")
    public static let phone = Channel("phone")
    public static let sms = Channel("sms")
    public static let social = Channel("social")
    public static let letter = Channel("letter")
    public static let video = Channel("video")
    public static let fieldVisit = Channel("fieldVisit")

    /// Every channel a contact may come on.
    public static let all: Set<Channel> = [.app, .chat, .email, .phone, .sms, .social, .letter, .video, .fieldVisit]
}

/// The kinds of timeline entries and the members of their payloads.
///
/// Structural members live in an entry's `payload` and survive erasure; free text and personal
/// data live in `personal`. Unknown kinds are kept and shown as such.
public enum EntryKind {
    /// `payload`: `channel`, `direction` (`inbound`/`outbound`), `purpose` (outbound), and for a
    /// message taken in from a channel `occurredAt`, `sender` (`kind`, `verified`, `parsed`), `email`
    /// (`messageId`, `inReplyTo`, `references`), `call` (`durationSeconds`, `outcome`);
    /// `personal`: `body`, `from`, `subject` (``MessageEntry``).
    public static let message = "message"
    /// An internal note, never in a customer's projection. `personal`: `body`.
    public static let note = "note"
    /// `payload`: `from`, `to` (case statuses).
    public static let statusChange = "statusChange"
    /// `payload`: `from`, `to` (principal ids), `team` (the skill or queue the case moves to, if
    /// any); `personal`: `reason` (staff only: a customer sees that the case moved, to which team,
    /// and the summary, never why), `summary`.
    public static let handoff = "handoff"
    /// How the server's routing chose the case's owner (staff only). `payload`: `to`, `reason`
    /// (`continuity`, `spareCapacity`, `fewestOpenCases`, `tieBreak`), `skill`, `widened`,
    /// `candidates` (``AssignmentEntry``).
    public static let assignment = "assignment"
    /// `payload`: `from`, `to` (channels): a chat becoming a call, on the same case.
    public static let channelSwitch = "channelSwitch"
    /// What became of a reply on the customer's channel, written by the integration that delivered
    /// it: `payload`: `message` (the outbound message's entry id), `channel`, `result`
    /// (`delivered`/`failed`), `channelId` (the channel's own id for it, if any); `personal`:
    /// `detail` (``DeliveryEntry``).
    public static let delivery = "delivery"
    /// `payload`: `purpose` (`callback`, `video`, `visit`), `slots` (`[{"id","start","end"}]`, ms).
    public static let appointmentProposal = "appointmentProposal"
    /// `payload`: `proposal` (entry id), `slot` (slot id), `answer` (`accept`/`decline`).
    public static let appointmentAnswer = "appointmentAnswer"
    /// What became of an appointment (staff): `payload`: `appointment` (proposal entry id),
    /// `outcome` (`done`/`missed`), `missedBy` (`customer`/`provider`); `personal`: `body`
    /// (``AppointmentOutcomeEntry``).
    public static let appointmentOutcome = "appointmentOutcome"
    /// A technician's report on a visit (``VisitReportEntry``). `payload`: `appointment` (proposal
    /// entry id, if any), `solved`, `customerConfirmed`, `parts`; `personal`: `diagnosis`, `done`,
    /// `body` (notes).
    public static let visitReport = "visitReport"
    /// A technician arrived on site (``VisitStampEntry``). `payload`: `appointment`, `at` (ms, the
    /// device's clock when it happened, offline included).
    public static let checkIn = "checkIn"
    /// A technician left the site. `payload`: as ``checkIn``.
    public static let checkOut = "checkOut"
    /// The social post that opened the case. `payload`: `network`, `url`; `personal`: `body`, `handle`.
    public static let socialPost = "socialPost"
    /// The link between a closed case and its follow-up. `payload`: `case`, `message`.
    public static let followUp = "followUp"

    /// Kinds a customer's projection never contains.
    public static let internalKinds: Set<String> = [note, assignment]

    /// Members of entries a customer's projection leaves out, by kind: why staff handed a case on.
    public static let internalMembers: [String: Set<String>] = [handoff: ["reason"]]
}

/// The direction of a message entry.
public enum MessageDirection {
    /// From the customer (or a channel integration on their behalf) to the provider.
    public static let inbound = "inbound"
    /// From the provider to the customer.
    public static let outbound = "outbound"
}
