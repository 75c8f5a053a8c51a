import ConciergeCore
import Foundation
import Testing

@testable import ConciergeServer

/// Replies on the customer's channel through the real server and the real CLI: an agent answers an
/// e-mail by e-mail, the mail gateway fetches the reply (leased, handed out again when no result
/// comes), reports it, and the result shows on the timeline once.
@Suite(.timeLimit(.minutes(2))) struct ReplyDeliveryTests {
    static func outbox(_ setup: IntakeTests.Setup, key: String? = nil) async throws -> BadInputTests.Answer {
        try await BadInputTests.send(
            setup.server, .GET, "v1/integrations/outbox?limit=10", contentType: nil, token: key ?? setup.key)
    }

    static func report(_ setup: IntakeTests.Setup, _ id: String, _ members: [String: Value]) async throws
        -> BadInputTests.Answer
    {
        try await BadInputTests.send(
            setup.server, .POST, "v1/integrations/outbox/\(id)/result", body: CanonicalJSON.encode(.object(members)),
            token: setup.key)
    }

    @Test(arguments: Engine.allCases) func anAgentsEmailReplyIsDeliveredByTheGatewayAndReportedOnce(engine: Engine)
        async throws
    {
        let setup = try await IntakeTests.Setup.start(engine)
        let mail = try await setup.contact(IntakeTests.email("<m1@mail.example>"))
        let caseID = try #require(mail.body["case"]?.stringValue)
        #expect(try await Self.outbox(setup).body["deliveries"] == .array([]))

        let ben = try await CLITests.enrolled("ben", on: setup.server)
        #expect(try await ben.run("sync").status == 0)
        let replied = try await ben.run(
            "case", "reply", caseID, "Please unplug it for ten seconds.", "--channel", "email", "--sync")
        #expect(replied.status == 0 && replied.output.contains("pushed 1"), "\(replied.output)")
        // An answer in the app is not delivered by anybody.
        #expect(try await ben.run("case", "reply", caseID, "Also noted in the app.", "--sync").status == 0)

        let fetched = try await Self.outbox(setup)
        #expect(fetched.status == 200, "\(fetched.body)")
        let deliveries = try #require(fetched.body["deliveries"]?.arrayValue)
        #expect(deliveries.count == 1)
        let delivery = try #require(deliveries.first)
        #expect(delivery["channel"] == "email" && delivery["case"] == .string(caseID))
        #expect(delivery["body"] == "Please unplug it for ten seconds.")
        #expect(delivery["to"]?["value"] == "anna@example.com")
        #expect(delivery["inReplyTo"] == "<m1@mail.example>")
        #expect(delivery["attempt"] == .int(1))
        let id = try #require(delivery["id"]?.stringValue)
        // Leased: not handed out again at once; handed out again once the lease ran out.
        #expect(try await Self.outbox(setup).body["deliveries"] == .array([]))
        let later = StoreSupport.nowMillis() + OutboundReplies.leaseMillis + 1
        let again = try await setup.server.store.lease(
            integration: "gateway", channels: [.email], limit: 10, now: later, until: later + 1)
        #expect(again.map(\.id) == [id] && again.first?.attempts == 2)

        // Bad results are refused; an unknown delivery is not found.
        #expect(try await Self.report(setup, id, ["result": "maybe"]).status == 400)
        let unknownMember = try await Self.report(setup, id, ["result": "delivered", "colour": "red"])
        #expect(unknownMember.status == 400 && unknownMember.code == "unknownField")
        #expect(try await Self.report(setup, "d0000", ["result": "delivered"]).status == 404)

        let reported = try await Self.report(setup, id, ["result": "delivered", "channelId": "<r1@acme.example>"])
        #expect(reported.status == 200 && reported.body["alreadyReported"] == .bool(false), "\(reported.body)")
        let twice = try await Self.report(setup, id, ["result": "failed"])
        #expect(twice.body["alreadyReported"] == .bool(true) && twice.body["result"] == "delivered")
        #expect(try await setup.server.store.delivery(id: id)?.state == .delivered)

        // The result is on the timeline, once, and the agent's CLI shows it.
        #expect(try await ben.run("sync").status == 0)
        let shown = try #require(try await ben.run("case", "show", caseID, "--json").json)
        let results = shown["timeline"]?.arrayValue?.filter { $0["kind"] == "delivery" } ?? []
        #expect(results.count == 1)
        #expect(results.first?["text"] == "delivered by email", "\(results)")
        await setup.server.stop()
    }

    /// Only an integration writes a delivery result, with a result it knows.
    @Test func deliveryResultsComeFromIntegrationsOnly() async throws {
        let setup = try await IntakeTests.Setup.start(.sqlite)
        let anna = try await setup.server.device("anna")
        let key = try SyncIntegrationTests.newCase(anna, subject: "No signal")
        try anna.edit { editor in
            try editor.append(DeliveryEntry(message: "m", channel: .email, result: "delivered"), to: key)
        }
        let report = try await anna.sync()
        #expect(report.rejected.first?.error.code == .forbiddenField)
        await setup.server.stop()
    }
}
