import ConciergeCore
import Foundation

/// What the server does with a presented refresh token: the rotation and reuse rules, written once
/// above the engines. Each engine reads the device's ``RefreshTokenState`` (holding its row against
/// concurrent rotations), asks ``decide(_:token:replica:now:)``, and applies the decision.
///
/// - The current token rotates: a new token becomes current, the presented one becomes previous.
/// - The previous token within ``StoreSupport/refreshGraceMillis`` of the rotation is a retry after
///   a lost answer, allowed **once**: it gets a new token (the one whose answer was lost stops
///   working), the previous one stays previous, and the window does not move.
/// - The previous token again (after the grace period, or a second time within it) is a stolen
///   copy in use: the device is revoked. So a token replayed in parallel never forks the session:
///   at most two of the answers carry a token, and only the last one issued works.
/// - Anything else is refused; a revoked device stays refused.
enum RefreshTokenPolicy {
    /// A device's refresh-token state as stored.
    struct State: Sendable {
        var principal: PrincipalID
        var revoked: Bool
        /// SHA-256 of the current token.
        var current: Data
        /// SHA-256 of the token before it, once the device has rotated.
        var previous: Data?
        /// When it last rotated, in milliseconds since 1970.
        var rotatedAt: Int64?
        /// Whether the grace retry of the current rotation was used.
        var graceUsed: Bool
    }

    /// What to do.
    enum Decision: Sendable, Equatable {
        /// Refuse, changing nothing.
        case refuse(SyncError)
        /// Revoke the device, then refuse.
        case revoke(SyncError)
        /// Store `next` as the current token; the presented (current) token becomes the previous
        /// one; the rotation time is now, and its grace retry unused.
        case rotate(next: String)
        /// Store `next` as the current token; the previous token and the rotation time stay; the
        /// grace retry is used.
        case graceRetry(next: String)
    }

    static func decide(_ state: State?, token: String, replica: ReplicaID, now: Int64) -> Decision {
        guard let state else { return .refuse(SyncError(.unauthorized, "unknown device")) }
        guard !state.revoked else { return .refuse(SyncError(.deviceRevoked, "the device was revoked")) }
        let presented = StoreSupport.hash(token)
        let isPrevious = presented == state.previous
        let next = "\(replica).\(StoreSupport.randomToken())"
        if isPrevious {
            guard !state.graceUsed, now - (state.rotatedAt ?? 0) <= StoreSupport.refreshGraceMillis else {
                return .revoke(SyncError(.deviceRevoked, "an old refresh token was used again; the device is revoked"))
            }
            return .graceRetry(next: next)
        }
        guard presented == state.current else {
            return .refuse(SyncError(.unauthorized, "the refresh token is not valid"))
        }
        return .rotate(next: next)
    }

    /// Refused because the device's principal is gone.
    static let principalGone = SyncError(.unauthorized, "the principal no longer exists")
}
