import ConciergeCore
import Foundation

/// What the contact intake keeps beside the records, on both engines: the integrations' API keys,
/// the contact points customers are matched by, and every contact taken in (by the channel's own
/// id, with its e-mail Message-ID for threading). The rules are above the engines
/// (``IntegrationKeys``, ``ContactIntake``); the engines store and find rows.
public protocol IntakeStore: Sendable {
    /// The region a provider's national phone numbers are read in (ISO 3166 alpha-2), if set.
    func defaultRegion(of provider: ProviderID) async throws -> String?
    func setDefaultRegion(of provider: ProviderID, to region: String?) async throws

    func addIntegrationKey(_ key: StoredIntegrationKey) async throws
    func integrationKey(id: String) async throws -> StoredIntegrationKey?
    func integrationKeys(of principal: PrincipalID) async throws -> [StoredIntegrationKey]
    /// Revokes a key (once; a revoked key stays revoked).
    /// - Throws: ``StoreError`` `notFound` when there is no such key.
    func revokeIntegrationKey(id: String) async throws

    /// The customer a contact point belongs to at a provider, with how it was verified.
    func contactPoint(_ point: ContactPoint, provider: ProviderID) async throws -> StoredContactPoint?
    /// Stores a contact point unless the provider has it already (for any customer): the first
    /// customer keeps it. - Returns: the stored one.
    @discardableResult
    func addContactPoint(_ point: StoredContactPoint) async throws -> StoredContactPoint
    func contactPoints(of customer: PrincipalID) async throws -> [StoredContactPoint]
    /// Removes a customer's contact point. - Returns: whether the customer had it.
    func removeContactPoint(_ point: ContactPoint, provider: ProviderID, customer: PrincipalID) async throws -> Bool

    /// The ids of the records of `type` whose audience carries `tag` (say, a customer's cases by
    /// `customer:<id>`). PostgreSQL finds them by the audience index; SQLite finds a customer's
    /// tag by its index on an audience's first tag (a customer's tag sorts first), and reads the
    /// audience of every record of the type for any other tag.
    func records(of type: RecordType, taggedWith tag: String) async throws -> [RecordID]

    /// A contact taken in before, by the channel's own id.
    func takenIn(provider: ProviderID, channel: Channel, channelID: String) async throws -> TakenInContact?
    /// The first contact of the provider whose e-mail Message-ID is one of `messageIDs`, in their
    /// order (In-Reply-To first, then References from the newest).
    func threaded(provider: ProviderID, messageIDs: [String]) async throws -> TakenInContact?
    /// Notes contacts taken in, in one transaction; a second note of the same channel id keeps the
    /// first.
    func noteTakenIn(_ contacts: [TakenInContact]) async throws
}

/// An integration's API key as stored: the secret only as its SHA-256.
public struct StoredIntegrationKey: Sendable, Hashable {
    public var id: String
    public var principal: PrincipalID
    public var secretHash: Data
    /// The channels contacts through this key may come on.
    public var channels: Set<Channel>
    public var createdAt: Int64
    public var revokedAt: Int64?

    public init(
        id: String, principal: PrincipalID, secretHash: Data, channels: Set<Channel>, createdAt: Int64,
        revokedAt: Int64? = nil
    ) {
        self.id = id
        self.principal = principal
        self.secretHash = secretHash
        self.channels = channels
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }

    /// The channels as stored: sorted, comma-separated.
    var channelList: String { channels.map(\.rawValue).sorted().joined(separator: ",") }

    static func channels(fromList list: String) -> Set<Channel> {
        Set(list.split(separator: ",").map { Channel(String($0)) })
    }
}

/// A customer's contact point as the server keeps it for matching.
public struct StoredContactPoint: Sendable, Hashable {
    public var provider: ProviderID
    public var point: ContactPoint
    public var customer: PrincipalID
    /// How it was confirmed (`enrolment`, `staff:<id>`, `customer`); `nil`: seen on an inbound
    /// contact, unverified.
    public var verifiedBy: String?
    public var verifiedAt: Int64?
    public var createdAt: Int64

    public init(
        provider: ProviderID, point: ContactPoint, customer: PrincipalID, verifiedBy: String? = nil,
        verifiedAt: Int64? = nil, createdAt: Int64
    ) {
        self.provider = provider
        self.point = point
        self.customer = customer
        self.verifiedBy = verifiedBy
        self.verifiedAt = verifiedAt
        self.createdAt = createdAt
    }

    public var verified: Bool { verifiedBy != nil }

    static func point(kind: String, storedValue: String) -> ContactPoint {
        storedValue.hasPrefix("?")
            ? ContactPoint(kind: .init(kind), value: String(storedValue.dropFirst()), parsed: false)
            : ContactPoint(kind: .init(kind), value: storedValue)
    }
}

extension ContactPoint {
    /// How the point is stored and looked up: a phone number kept as written is stored with a `?`
    /// before it, so that it never equals a parsed one.
    var storedValue: String { parsed ? value : "?" + value }
}

/// A contact taken in: where it landed.
public struct TakenInContact: Sendable, Hashable {
    public var provider: ProviderID
    public var channel: Channel
    public var channelID: String
    public var caseID: RecordID
    public var customer: PrincipalID
    public var entry: EntryID
    public var messageID: String?
    public var createdAt: Int64

    public init(
        provider: ProviderID, channel: Channel, channelID: String, caseID: RecordID, customer: PrincipalID,
        entry: EntryID, messageID: String?, createdAt: Int64
    ) {
        self.provider = provider
        self.channel = channel
        self.channelID = channelID
        self.caseID = caseID
        self.customer = customer
        self.entry = entry
        self.messageID = messageID
        self.createdAt = createdAt
    }
}

extension IntakeStore {
    /// Notes one contact taken in.
    public func noteTakenIn(_ contact: TakenInContact) async throws { try await noteTakenIn([contact]) }
}
