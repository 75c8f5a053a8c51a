import ConciergeCore

/// The queue of replies on the customer's channel, on both engines: each outbound message on a
/// channel other than the app waits for the integration that delivers it, handed out under a
/// lease (at least once) until it reports the result. The rules are above the engines
/// (``OutboundReplies``).
public protocol OutboundStore: Sendable {
    /// Stores deliveries to make; one already stored (the same id) stays as it is.
    func enqueue(_ deliveries: [OutboundDelivery]) async throws
    /// Hands out up to `limit` pending deliveries of `integration` on `channels` whose lease ran
    /// out, oldest first: each is leased until `until` and its attempt counted.
    func lease(integration: PrincipalID, channels: Set<Channel>, limit: Int, now: Int64, until: Int64) async throws
        -> [OutboundDelivery]
    func delivery(id: String) async throws -> OutboundDelivery?
    /// Marks a pending delivery delivered or failed; a finished one stays as it was.
    /// - Returns: the delivery as stored afterwards (`nil`: no such delivery).
    func finish(id: String, state: OutboundDelivery.State, detail: String?, at: Int64) async throws
        -> OutboundDelivery?
    /// The integrations of a provider with an unrevoked key for `channel`, by id.
    func integrations(of provider: ProviderID, for channel: Channel) async throws -> [PrincipalID]
}

/// One reply to deliver: which message of which case, on which channel, by which integration.
public struct OutboundDelivery: Sendable, Hashable {
    public enum State: String, Sendable, Hashable {
        case pending, delivered, failed
    }

    public var id: String
    public var provider: ProviderID
    /// `nil`: no integration of the provider takes the channel (the delivery failed at once).
    public var integration: PrincipalID?
    public var caseID: RecordID
    public var entry: EntryID
    public var channel: Channel
    public var state: State
    public var attempts: Int
    public var leasedUntil: Int64
    public var detail: String?
    public var createdAt: Int64
    public var finishedAt: Int64?

    public init(
        id: String, provider: ProviderID, integration: PrincipalID?, caseID: RecordID, entry: EntryID,
        channel: Channel, state: State = .pending, attempts: Int = 0, leasedUntil: Int64 = 0, detail: String? = nil,
        createdAt: Int64, finishedAt: Int64? = nil
    ) {
        self.id = id
        self.provider = provider
        self.integration = integration
        self.caseID = caseID
        self.entry = entry
        self.channel = channel
        self.state = state
        self.attempts = attempts
        self.leasedUntil = leasedUntil
        self.detail = detail
        self.createdAt = createdAt
        self.finishedAt = finishedAt
    }

    /// The columns of `outbound_delivery`, in the order both engines read them.
    static let columns = """
        delivery_id, provider_id, integration_id, case_id, entry_id, channel, state, attempts, leased_until, detail, \
        created_at, finished_at
        """
}
