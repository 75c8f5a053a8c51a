import Foundation

/// The claims of an access token, as the core reads them: who it is and when to refresh.
///
/// The core never verifies a token (only the server can); it reads the claims to know its
/// principal and to refresh ahead of expiry.
public struct AccessTokenClaims: Hashable, Sendable {
    public var principal: PrincipalID
    public var provider: ProviderID
    public var role: Role
    public var device: ReplicaID
    /// Expiry, in seconds since 1970.
    public var expiresAt: Int64

    public init(principal: PrincipalID, provider: ProviderID, role: Role, device: ReplicaID, expiresAt: Int64) {
        self.principal = principal
        self.provider = provider
        self.role = role
        self.device = device
        self.expiresAt = expiresAt
    }

    /// Reads the claims of a JWT without verifying its signature.
    /// - Throws: ``CodecError`` when the token is not a JWT with these claims.
    public init(jwt: String) throws(CodecError) {
        let parts = jwt.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw CodecError(.invalidValue, "a JWT has three parts") }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64) else {
            throw CodecError(.invalidValue, "the JWT payload is not base64url")
        }
        let reader = try ObjectReader(CanonicalJSON.decodeAllowingFloats(data), "token")
        guard let device = ReplicaID(try reader.string("dev")) else { throw reader.invalid("dev", "a UUID") }
        self.init(
            principal: PrincipalID(try reader.string("sub")), provider: ProviderID(try reader.string("prv")),
            role: Role(try reader.string("rol")), device: device, expiresAt: try reader.int("exp"))
    }

    /// Whether the token expires within `margin` seconds of `now`.
    public func expires(within margin: Int64, of now: Int64) -> Bool {
        expiresAt - margin <= now
    }
}
