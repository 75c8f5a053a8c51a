import ConciergeCore
import Foundation
import JWTKit
import Testing

@testable import ConciergeServer

/// A token signed with the server's own key but issued in the future, or not valid yet, is
/// refused: a server whose clock ran ahead (or a key in the wrong hands) cannot mint tokens that
/// start working later. A minute of leeway covers clocks that differ a little.
@Suite struct TokenClaimTests {
    static func token(
        _ server: TestServer, device: ReplicaID, issued: TimeInterval, notBefore: TimeInterval? = nil
    ) async throws -> String {
        let now = Date()
        let payload = TokenService.Payload(
            sub: SubjectClaim(value: "anna"), exp: ExpirationClaim(value: now.addingTimeInterval(3_600)),
            iat: IssuedAtClaim(value: now.addingTimeInterval(issued)),
            nbf: notBefore.map { NotBeforeClaim(value: now.addingTimeInterval($0)) }, prv: "acme", rol: "customer",
            dev: device.description)
        let tokens = server.parts.tokens
        return try await tokens.keys.sign(payload, kid: JWKIdentifier(string: tokens.keyID))
    }

    @Test func tokensIssuedInTheFutureOrNotValidYetAreRefused() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        let anna = try await server.device("anna")
        let device = anna.transport.currentSession.replica
        func status(_ token: String) async throws -> Int {
            try await BadInputTests.send(server, .GET, "v1/devices", body: nil, contentType: nil, token: token).status
        }
        #expect(try await status(try await Self.token(server, device: device, issued: 0)) == 200)
        // Within the leeway: clocks differ a little.
        #expect(try await status(try await Self.token(server, device: device, issued: 30, notBefore: 30)) == 200)
        #expect(try await status(try await Self.token(server, device: device, issued: 600)) == 401)
        #expect(try await status(try await Self.token(server, device: device, issued: 0, notBefore: 600)) == 401)
        await server.stop()
    }
}
