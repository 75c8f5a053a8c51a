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
}
