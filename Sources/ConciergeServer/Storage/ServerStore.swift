import ConciergeCore
import Crypto
import Foundation

/// The server's storage: one protocol, two engines (``SQLiteServerStore``, the embedded default,
/// and ``PostgresServerStore``, for several instances on one cluster). The storage contract tests
/// run against both.
///
/// Every engine keeps these promises: a push batch is checked in the server's order of checks and
/// a refused set leaves no trace; an outcome is only returned after its commit; log positions
/// become visible in order, so a reader following the log with `seq > cursor` never skips one.
public protocol ServerStore: IntakeStore, OutboundStore {
    /// The server epoch; a new database, or one restored and marked so, gets a new one.
    var epoch: String { get }

    func createProvider(id: ProviderID, name: String) async throws
    func createPrincipal(_ principal: Principal) async throws
    /// Changes a principal's skills and queues (and so what they see from now on).
    func updateRouting(of id: PrincipalID, skills: [String], queues: [String]) async throws
    func principal(_ id: PrincipalID) async throws -> Principal?

    /// Issues a one-time enrolment code for `principal`, valid for `lifetime` seconds.
    func issueEnrolmentCode(for principal: PrincipalID, lifetime: Int64) async throws -> String
    /// Uses a one-time code: mints the replica id and the first refresh token.
    /// - Throws: ``SyncError`` `invalidCode` when the code is unknown, used or expired.
    func enrol(code: String, deviceName: String) async throws -> Enrolment
    /// Enrols `count` devices for `principal` in one transaction, without codes: for provisioning
    /// fleets of managed devices and for load tests.
    func enrolDevices(for principal: PrincipalID, count: Int, name: String) async throws -> [Enrolment]
    /// Rotates a refresh token. Presenting the previous token again revokes the device (a stolen
    /// copy in use), unless it comes within ``StoreSupport/refreshGraceMillis`` of the rotation:
    /// then it is a retry after a lost answer, and gets a new token.
    func rotateRefreshToken(_ token: String) async throws -> (
        refreshToken: String, replica: ReplicaID, principal: Principal
    )
    func devices(of principal: PrincipalID) async throws -> [Device]
    /// Revokes a device; with `owner`, only if it belongs to that principal.
    func revokeDevice(_ replica: ReplicaID, owner: PrincipalID?) async throws
    /// The principal behind an access token: `nil` unless the device exists, is not revoked, and
    /// belongs to `principal`.
    func activePrincipal(_ principal: PrincipalID, device replica: ReplicaID) async throws -> Principal?

    /// Applies a batch of change sets in the server's order of checks. Accepted sets and final
    /// rejections are stored; retryable ones are not.
    func push(_ sets: [ChangeSet], from caller: Caller, serverMillis: UInt64, policy: PushPolicy) async throws
        -> (outcomes: [PushOutcome], counts: PushCounts)
    /// The caller's projection of the log after `cursor`, or a page of a reset snapshot.
    /// - Throws: ``SyncError`` `invalidCursor` for a cursor ahead of the log or a malformed token.
    func pull(for caller: Caller, cursor: ConciergeCore.Cursor?, limit: Int, snapshot token: String?) async throws
        -> PullResponse

    /// A record as stored (the whole of it), or `nil`.
    func record(_ key: RecordKey) async throws -> ConciergeCore.Record?
    /// Every record `principal` may see, projected for them: what their replica must hold.
    func projection(for principal: Principal) async throws -> [ConciergeCore.Record]
    /// The caller's projection and the log position it was read at, in one read.
    func projectionWithHead(for principal: Principal) async throws -> ([ConciergeCore.Record], UInt64)
    /// Deletes change-log payloads below the lowest acknowledged cursor of the devices seen within
    /// the retention window, and never past a change-log follower's position. - Returns: the
    /// horizon.
    @discardableResult
    func compact(now: Int64, retentionMillis: Int64) async throws -> UInt64
    /// One step of a change-log follower (``ChangeLogFollower``): hands `handle` the change sets
    /// committed after the follower's stored position (at most `limit`, in log order), then moves
    /// the position past them. A follower seen for the first time starts at the oldest change set
    /// the log still holds; from then on compaction keeps what it has not handled. On PostgreSQL
    /// one instance at a time runs a follower's step (the others wait for its position).
    /// - Returns: how many change sets it handed over.
    func follow(
        _ follower: String, limit: Int, _ handle: @Sendable @escaping ([LoggedChangeSet]) async throws -> Void
    ) async throws -> Int
    /// A follower's stored position; `nil` before its first step.
    func followerPosition(_ follower: String) async throws -> UInt64?
    /// The ids of the change sets of `replica` the server accepted.
    func acceptedSets(of replica: ReplicaID) async throws -> Set<ChangeSetID>
    /// Row counts of the tables, for stats and for tests that check a refusal left no trace.
    func stats() async throws -> [String: Int]
    /// Releases the engine's connections; the store is not used afterwards.
    func close() async
}

extension ServerStore {
    public func issueEnrolmentCode(for principal: PrincipalID) async throws -> String {
        try await issueEnrolmentCode(for: principal, lifetime: 86_400)
    }

    public func revokeDevice(_ replica: ReplicaID) async throws {
        try await revokeDevice(replica, owner: nil)
    }

    public func push(_ sets: [ChangeSet], from caller: Caller, serverMillis: UInt64) async throws
        -> (outcomes: [PushOutcome], counts: PushCounts)
    {
        try await push(sets, from: caller, serverMillis: serverMillis, policy: PushPolicy())
    }

    public func pull(for caller: Caller, cursor: ConciergeCore.Cursor?, limit: Int) async throws -> PullResponse {
        try await pull(for: caller, cursor: cursor, limit: limit, snapshot: nil)
    }

    @discardableResult
    public func compact(retentionMillis: Int64 = 30 * 86_400_000) async throws -> UInt64 {
        try await compact(now: StoreSupport.nowMillis(), retentionMillis: retentionMillis)
    }
}

/// What both engines share: clocks, hashes, tokens and codes.
public enum StoreSupport {
    public static func nowMillis() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// How long after a rotation the previous refresh token may rotate again: a client whose
    /// answer was lost retries with it. Later, presenting it again means a stolen copy is in use.
    public static let refreshGraceMillis: Int64 = 60_000

    static func hash(_ text: String) -> Data { Data(SHA256.hash(data: Data(text.utf8))) }

    static func randomToken(bytes: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        let raw = (0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(raw).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// A one-time enrolment code: 12 characters from an alphabet without look-alikes, about 60 bits.
    static func enrolmentCode() -> String {
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<12).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// A new device's replica id and first refresh token (`<replica>.<random>`).
    static func newDevice() -> (replica: ReplicaID, refreshToken: String) {
        let replica = ReplicaID.random()
        return (replica, "\(replica).\(randomToken())")
    }

    /// The replica id a refresh token names.
    static func replica(ofRefreshToken token: String) throws -> ReplicaID {
        guard let dot = token.firstIndex(of: "."), let replica = ReplicaID(String(token[..<dot])) else {
            throw SyncError(.unauthorized, "the refresh token is malformed")
        }
        return replica
    }

    /// Principal from its stored row and its tags.
    static func principal(id: PrincipalID, provider: String, role: String, displayName: String, tags: [String])
        -> Principal
    {
        Principal(
            id: id, provider: ProviderID(provider), role: Role(role), displayName: displayName,
            skills: tags.filter { $0.hasPrefix("has-skill:") }.map { String($0.dropFirst(10)) }.sorted(),
            queues: tags.filter { $0.hasPrefix("has-queue:") }.map { String($0.dropFirst(10)) }.sorted())
    }

    /// The tag rows stored for a principal: what it reads, and its skills and queues.
    static func storedTags(of principal: Principal) -> Set<String> {
        principal.tags.union(principal.skills.map { "has-skill:\($0)" }).union(
            principal.queues.map { "has-queue:\($0)" })
    }
}

/// What the server knows about the sender of a push or pull.
public struct Caller: Sendable {
    public var principal: Principal
    public var replica: ReplicaID

    public init(principal: Principal, replica: ReplicaID) {
        self.principal = principal
        self.replica = replica
    }
}

/// Policies of the push pipeline.
public struct PushPolicy: Sendable {
    public var drift: DriftBound = .default
    public var upgrader: Upgrader = .current
    public var schema: Schema = .current
    /// How large a value or an entry a change may carry.
    public var limits: ContentLimits = .default
    /// The record policies and reactions the push runs.
    var rules: DomainRules = .standard
    public init() {}
}

/// Who a push concerns: the audiences of the records it changed and the principals whose
/// scope it moved, for live notices.
public struct Touched: Sendable {
    public var tags: Set<String> = []
    public var principals: Set<String> = []
    public var head: UInt64 = 0
}

/// Counts of one push, for metrics.
public struct PushCounts: Sendable {
    public var accepted = 0
    public var duplicates = 0
    public var rejected: [SyncError.Code: Int] = [:]
    public var enters = 0
    public var leaves = 0
    public var touched = Touched()
}

/// A device enrolled: its new replica id, its first refresh token, and its principal.
public struct Enrolment: Sendable {
    public var replica: ReplicaID
    public var refreshToken: String
    public var principal: Principal
}

/// A device as its owner sees it.
public struct Device: Sendable, Hashable {
    public var replica: ReplicaID
    public var name: String
    public var createdAt: Int64
    public var lastSeenAt: Int64?
    public var revoked: Bool
}
