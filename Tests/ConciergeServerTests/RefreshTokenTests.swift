import ConciergeClient
import ConciergeCore
import Foundation
import GRDB
import Testing

@testable import ConciergeServer

@Suite struct RefreshTokenTests {
    @Test(arguments: Engine.allCases) func aRetryAfterALostAnswerWorksButLaterReuseRevokes(engine: Engine) async throws
    {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let code = try await server.store.issueEnrolmentCode(for: "anna")
        let enrolment = try await server.store.enrol(code: code, deviceName: "phone")
        let first = enrolment.refreshToken
        let lost = try await server.store.rotateRefreshToken(first).refreshToken  // the answer never arrives
        // The client retries with the token it still has: within the grace period, a new token.
        let retried = try await server.store.rotateRefreshToken(first).refreshToken
        #expect(retried != lost)
        await #expect(throws: SyncError(.unauthorized, "the refresh token is not valid")) {
            _ = try await server.store.rotateRefreshToken(lost)
        }
        let current = try await server.store.rotateRefreshToken(retried).refreshToken
        // Presenting a previous token after the grace period: a stolen copy; the device is revoked.
        try await server.zeroDeviceColumn("rotated_at", of: enrolment.replica)
        do {
            _ = try await server.store.rotateRefreshToken(retried)
            Issue.record("an old refresh token was accepted after the grace period")
        } catch let error as SyncError {
            #expect(error.code == .deviceRevoked)
        }
        do {
            _ = try await server.store.rotateRefreshToken(current)
            Issue.record("a revoked device refreshed")
        } catch let error as SyncError {
            #expect(error.code == .deviceRevoked)
        }
        await server.stop()
    }

    /// The grace retry is for the one answer that was lost: a second replay of the previous token,
    /// even within the grace period, is a stolen copy in use, and revokes the device.
    @Test(arguments: Engine.allCases) func theGraceRetryIsAllowedOnce(engine: Engine) async throws {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let enrolment = try await server.store.enrol(
            code: try await server.store.issueEnrolmentCode(for: "anna"), deviceName: "phone")
        let first = enrolment.refreshToken
        _ = try await server.store.rotateRefreshToken(first)  // lost
        let retried = try await server.store.rotateRefreshToken(first).refreshToken  // the grace retry
        await #expect(throws: SyncError(.deviceRevoked, "an old refresh token was used again; the device is revoked")) {
            _ = try await server.store.rotateRefreshToken(first)
        }
        await #expect(throws: SyncError(.deviceRevoked, "the device was revoked")) {
            _ = try await server.store.rotateRefreshToken(retried)
        }
        await server.stop()
    }

    /// Ten refreshes with one token at once never fork the session: at most two get a token (the
    /// rotation and its one grace retry), and the replays after them revoke the device.
    @Test(arguments: Engine.allCases) func parallelRefreshesWithOneTokenDoNotForkTheSession(engine: Engine)
        async throws
    {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let enrolment = try await server.store.enrol(
            code: try await server.store.issueEnrolmentCode(for: "anna"), deviceName: "phone")
        let store = server.store
        let token = enrolment.refreshToken
        let issued = await withTaskGroup(of: String?.self) { group in
            for _ in 0..<10 { group.addTask { try? await store.rotateRefreshToken(token).refreshToken } }
            var issued: [String] = []
            for await result in group { if let result { issued.append(result) } }
            return issued
        }
        #expect((1...2).contains(issued.count), "\(issued.count) refreshes got a token")
        #expect(try await store.activePrincipal("anna", device: enrolment.replica) == nil)
        await server.stop()
    }
}

/// The refresh-token rules alone, with the time under the test's control.
@Suite struct RefreshTokenPolicyTests {
    static let replica = ReplicaID.random()
    static let now: Int64 = 1_800_000_000_000

    static func state(rotatedAgo: Int64, graceUsed: Bool = false) -> RefreshTokenPolicy.State {
        RefreshTokenPolicy.State(
            principal: "anna", revoked: false, current: StoreSupport.hash("current"),
            previous: StoreSupport.hash("previous"), rotatedAt: now - rotatedAgo, graceUsed: graceUsed)
    }

    static func decide(_ state: RefreshTokenPolicy.State?, _ token: String) -> String {
        switch RefreshTokenPolicy.decide(state, token: token, replica: replica, now: now) {
        case .refuse(let error): "refuse \(error.code)"
        case .revoke: "revoke"
        case .rotate: "rotate"
        case .graceRetry: "grace"
        }
    }

    @Test func theWindowIsMeasuredFromTheRotationAndUsedOnce() {
        #expect(Self.decide(Self.state(rotatedAgo: 1_000), "current") == "rotate")
        #expect(Self.decide(Self.state(rotatedAgo: 59_000), "previous") == "grace")
        #expect(Self.decide(Self.state(rotatedAgo: 61_000), "previous") == "revoke")
        #expect(Self.decide(Self.state(rotatedAgo: 1_000, graceUsed: true), "previous") == "revoke")
        #expect(Self.decide(Self.state(rotatedAgo: 1_000), "other") == "refuse unauthorized")
        var revoked = Self.state(rotatedAgo: 1_000)
        revoked.revoked = true
        #expect(Self.decide(revoked, "current") == "refuse deviceRevoked")
        #expect(Self.decide(nil, "current") == "refuse unauthorized")
    }
}
