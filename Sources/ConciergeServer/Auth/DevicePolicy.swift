import ConciergeCore
import Foundation

/// The rules of enrolment codes and devices, written once above the engines: what is stored of a
/// code and a token (their hashes), when a code may be spent, what a new device is made of, and who
/// may revoke a device. Each engine reads and writes the rows; the refresh-token rotation has rules
/// of its own (``RefreshTokenPolicy``).
enum DevicePolicy {
    /// A device name is stored with at most this many characters.
    static let nameLimit = 100

    /// A one-time enrolment code as issued: the code to hand over once, and what is stored.
    struct IssuedCode: Sendable {
        var code: String
        /// SHA-256 of the code: the code itself is never stored.
        var hash: Data
        var expiresAt: Int64
    }

    /// A new code for a principal, valid for `lifetime` seconds from `now` (milliseconds).
    static func issueCode(lifetime: Int64, now: Int64) -> IssuedCode {
        let code = StoreSupport.enrolmentCode()
        return IssuedCode(code: code, hash: StoreSupport.hash(code), expiresAt: now + lifetime * 1000)
    }

    /// The stored hash a presented code is looked up by: a code is read without regard to case.
    static func lookupHash(ofPresented code: String) -> Data { StoreSupport.hash(code.uppercased()) }

    /// Whether a stored code may be spent now: never used, not expired.
    static func spendable(usedAt: Int64?, expiresAt: Int64, now: Int64) -> Bool {
        usedAt == nil && expiresAt > now
    }

    /// The one answer for a code that is unknown, used or expired (the three are not told apart).
    static let invalidCode = SyncError(.invalidCode, "the enrolment code is unknown, used or expired")

    /// A new device: its replica id, its first refresh token (`<replica>.<random>`) and the token's
    /// hash (what is stored), and its name as stored.
    struct NewDevice: Sendable {
        var replica: ReplicaID
        var refreshToken: String
        var refreshHash: Data
        var name: String

        func enrolment(of principal: Principal) -> Enrolment {
            Enrolment(replica: replica, refreshToken: refreshToken, principal: principal)
        }
    }

    static func newDevice(named name: String) -> NewDevice {
        let (replica, token) = StoreSupport.newDevice()
        return NewDevice(
            replica: replica, refreshToken: token, refreshHash: StoreSupport.hash(token),
            name: String(name.prefix(nameLimit)))
    }

    /// Checks that `owner` may revoke a device whose stored owner is `storedOwner` (`nil`: no such
    /// device). `owner` `nil` is an administrator, who may revoke any device.
    /// - Throws: ``StoreError`` `notFound`, the same for another principal's device as for none, so
    ///   that nobody learns which devices exist.
    static func checkRevocation(storedOwner: String?, by owner: PrincipalID?) throws {
        guard let storedOwner, owner == nil || owner?.rawValue == storedOwner else {
            throw StoreError(.notFound, "no such device")
        }
    }

    /// The answer for a principal that does not exist.
    static func noPrincipal(_ id: PrincipalID) -> StoreError { StoreError(.notFound, "no principal \(id)") }
}
