import ConciergeCore
import Foundation
import JWTKit

/// Signs and verifies access tokens: short-lived EdDSA (Ed25519) JWTs naming the principal, its
/// provider and role, and the device.
///
/// The signing key lives in the data folder (`signing-key.json`, mode 0600), made on first start,
/// with a key id so that keys can be rotated: tokens name their key in the `kid` header.
public struct TokenService: Sendable {
    /// How far ahead of the server's clock a token's `iat` and `nbf` may be: clocks of several
    /// instances differ a little, never by minutes.
    static let clockLeeway: TimeInterval = 60

    struct Payload: JWTPayload {
        var sub: SubjectClaim
        var exp: ExpirationClaim
        var iat: IssuedAtClaim
        /// Not issued by this server; checked when a token carries it.
        var nbf: NotBeforeClaim?
        var prv: String
        var rol: String
        var dev: String

        /// Not expired, not issued in the future, and not used before its time (each within
        /// ``clockLeeway``).
        func verify(using algorithm: some JWTAlgorithm) throws {
            let now = Date()
            try exp.verifyNotExpired(currentDate: now)
            guard iat.value <= now.addingTimeInterval(TokenService.clockLeeway) else {
                throw JWTError.claimVerificationFailure(failedClaim: iat, reason: "issued in the future")
            }
            try nbf?.verifyNotBefore(currentDate: now.addingTimeInterval(TokenService.clockLeeway))
        }
    }

    let keys: JWTKeyCollection
    let keyID: String
    /// How long an access token lives, in seconds.
    public let lifetime: Int64

    /// Loads the signing key from `folder`, making one on first start.
    public static func load(folder: URL, lifetime: Int64 = 900) async throws -> TokenService {
        let file = folder.appendingPathComponent("signing-key.json")
        let key: EdDSA.PrivateKey
        let keyID: String
        if FileManager.default.fileExists(atPath: file.path) {
            let value = try CanonicalJSON.decode(Data(contentsOf: file))
            guard let id = value["kid"]?.stringValue, let pem = value["pem"]?.stringValue else {
                throw StoreError(.corrupt, "\(file.path) lacks kid or pem")
            }
            key = try EdDSA.PrivateKey(pem: pem)
            keyID = id
        } else {
            key = try EdDSA.PrivateKey()
            keyID = String(ReplicaID.random().description.prefix(8))
            let json = CanonicalJSON.encode(["kid": .string(keyID), "pem": .string(key.pemRepresentation)])
            FileManager.default.createFile(
                atPath: file.path, contents: Data(json), attributes: [.posixPermissions: 0o600])
        }
        return await TokenService(key: key, keyID: keyID, lifetime: lifetime)
    }

    /// A new signing key and its id, as PEM.
    public static func makeKey() throws -> (kid: String, pem: String) {
        (String(ReplicaID.random().description.prefix(8)), try EdDSA.PrivateKey().pemRepresentation)
    }

    /// A service over a key kept elsewhere (the PostgreSQL engine keeps it in the database).
    public init(pem: String, keyID: String, lifetime: Int64) async throws {
        await self.init(key: try EdDSA.PrivateKey(pem: pem), keyID: keyID, lifetime: lifetime)
    }

    init(key: EdDSA.PrivateKey, keyID: String, lifetime: Int64) async {
        keys = JWTKeyCollection()
        await keys.add(eddsa: key, kid: JWKIdentifier(string: keyID))
        self.keyID = keyID
        self.lifetime = lifetime
    }

    /// A fresh access token for a device of `principal`.
    public func accessToken(for principal: Principal, device: ReplicaID, now: Date = Date()) async throws -> String {
        let payload = Payload(
            sub: SubjectClaim(value: principal.id.rawValue),
            exp: ExpirationClaim(value: now.addingTimeInterval(TimeInterval(lifetime))),
            iat: IssuedAtClaim(value: now), nbf: nil, prv: principal.provider.rawValue, rol: principal.role.rawValue,
            dev: device.description)
        return try await keys.sign(payload, kid: JWKIdentifier(string: keyID))
    }

    /// The verified claims of a token.
    /// - Throws: ``SyncError`` `unauthorized` for an expired, forged or malformed token, or one
    ///   signed by a key this server does not hold.
    public func verify(_ token: String) async throws -> AccessTokenClaims {
        do {
            let payload = try await keys.verify(token, as: Payload.self)
            guard let device = ReplicaID(payload.dev) else {
                throw SyncError(.unauthorized, "the token names no device")
            }
            return AccessTokenClaims(
                principal: PrincipalID(payload.sub.value), provider: ProviderID(payload.prv), role: Role(payload.rol),
                device: device, expiresAt: Int64(payload.exp.value.timeIntervalSince1970))
        } catch let error as SyncError {
            throw error
        } catch {
            throw SyncError(.unauthorized, "the access token is expired or not valid")
        }
    }
}
