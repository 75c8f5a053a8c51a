import ConciergeClient
import ConciergeCore
import ConciergeServer
import Foundation
import Testing

/// Consent that holds, through the real server and the real CLI: per purpose and channel, with
/// when, how and on which legal basis it was given or withdrawn; staff read it before they contact
/// the customer; marketing without consent is refused.
@Suite struct ConsentTests {
    @Test func consentIsPerPurposeAndChannelWithItsBasis() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        let anna = try await CLITests.enrolled("anna", on: server)
        let ben = try await CLITests.enrolled("ben", on: server)
        let sue = try await CLITests.enrolled("sue", on: server)
        let id = try await anna.openCase("--subject", "Contract question", "--message", "when does it end?")

        for (arguments, says) in [
            (["--consent", "marketing", "--basis", "whim"], "legal basis"),
            (["--consent", "marketing", "--how", "pigeon"], "how it was given"),
            (["--consent", "service"], "needs no consent"), (["--consent", "lottery"], "names a purpose"),
            (["--consent", "marketing", "--channel", "telepathy"], "not a channel"),
        ] {
            let refused = try await anna.run(["prefs"] + arguments)
            #expect(refused.status != 0 && refused.output.contains(says), "\(arguments): \(refused.output)")
        }
        #expect(try await anna.run("prefs", "--consent", "marketing", "--channel", "email", "--sync").status == 0)
        try await ben.run("sync")
        func offer(_ channel: String) async throws -> CLITests.Run {
            try await ben.run(
                "case", "reply", id, "Our new offer", "--channel", channel, "--purpose", "marketing", "--sync")
        }
        let bySMS = try await offer("sms")
        #expect(bySMS.status != 0 && bySMS.output.contains("consent"), "\(bySMS.output)")
        let byMail = try await offer("email")
        #expect(byMail.status == 0 && byMail.output.contains("pushed 1"), "\(byMail.output)")

        // Withdrawn: refused again, and the history keeps both.
        #expect(try await anna.run("prefs", "--withdraw", "marketing", "--channel", "email", "--sync").status == 0)
        try await ben.run("sync")
        let afterWithdrawal = try await offer("email")
        #expect(afterWithdrawal.status != 0 && afterWithdrawal.output.contains("consent"), "\(afterWithdrawal.output)")

        // A supervisor records consent given by phone; an agent may not.
        let byAgent = try await ben.run("prefs", "--customer", "anna", "--consent", "surveys", "--how", "phone")
        #expect(byAgent.status != 0 && byAgent.output.contains("only the customer"), "\(byAgent.output)")
        try await sue.run("sync")
        let bySupervisor = try await sue.run(
            "prefs", "--customer", "anna", "--consent", "surveys", "--how", "phone", "--sync")
        #expect(bySupervisor.status == 0 && bySupervisor.output.contains("pushed 1"), "\(bySupervisor.output)")

        // Staff see it before they contact her: the history, and a line on the case.
        try await ben.run("sync")
        let history = try await ben.run("prefs", "--customer", "anna")
        for text in [
            "gave marketing on email, app, basis consent (recorded by anna)",
            "withdrew marketing on email, app, basis consent (recorded by anna)",
            "gave surveys on every channel, phone, basis consent (recorded by sue)", "consents          surveys",
        ] {
            #expect(history.output.contains(text), "\(text): \(history.output)")
        }
        let shown = try await ben.run("case", "show", id)
        #expect(shown.output.contains("contact   any channel; consents: surveys"), "\(shown.output)")
        try await anna.run("sync")
        let json = try #require(try await anna.run("prefs", "--json").json)
        #expect(json["consentHistory"]?.arrayValue?.count == 3)
        await server.stop()
    }
}

/// Urgent service messages and quiet hours: through them only when the provider's policy says so,
/// and the entry says it; the server checks it on both engines. The quiet hours are the two hours
/// around now (in UTC), so the test means the same at any time of day.
@Suite struct UrgentContactTests {
    static func quietAroundNow() -> (start: Int, end: Int) {
        let minute = Int(Date().timeIntervalSince1970 / 60) % 1440
        return ((minute - 60 + 1440) % 1440, (minute + 60) % 1440)
    }

    @Test func urgentMessagesGoThroughQuietHoursOnlyByPolicy() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        let anna = try await CLITests.enrolled("anna", on: server)
        let ben = try await CLITests.enrolled("ben", on: server)
        let sue = try await CLITests.enrolled("sue", on: server)
        let quiet = Self.quietAroundNow()
        let window = String(
            format: "%02d:%02d-%02d:%02d", quiet.start / 60, quiet.start % 60, quiet.end / 60, quiet.end % 60)
        #expect(try await anna.run("prefs", "--quiet", window, "--time-zone", "UTC", "--sync").status == 0)
        let id = try await anna.openCase("--subject", "Outage", "--message", "no signal")
        try await ben.run("sync")

        let plain = try await ben.run("case", "reply", id, "Engineers on site", "--channel", "sms")
        #expect(plain.status != 0 && plain.output.contains("quietHours"), "\(plain.output)")
        let urgentDenied = try await ben.run("case", "reply", id, "Engineers on site", "--channel", "sms", "--urgent")
        #expect(urgentDenied.status != 0 && urgentDenied.output.contains("quietHours"), "\(urgentDenied.output)")
        let urgentMarketing = try await ben.run(
            "case", "reply", id, "Offer", "--channel", "sms", "--urgent", "--purpose", "marketing")
        #expect(urgentMarketing.status != 0 && urgentMarketing.output.contains("service messages are urgent"))

        #expect(try await sue.run("routing", "set", "--urgent-in-quiet-hours", "allow", "--sync").status == 0)
        try await ben.run("sync")
        let urgent = try await ben.run(
            "case", "reply", id, "Engineers on site", "--channel", "sms", "--urgent", "--sync")
        #expect(urgent.status == 0 && urgent.output.contains("pushed 1"), "\(urgent.output)")
        try await anna.run("sync")
        let shown = try await anna.run("case", "show", id)
        #expect(shown.output.contains("[urgent, in quiet hours] Engineers on site"), "\(shown.output)")
        await server.stop()
    }

    @Test(arguments: Engine.allCases) func theServerHoldsThePolicy(engine: Engine) async throws {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let anna = try await server.device("anna")
        let ben = try await server.device("ben")
        let sue = try await server.device("sue")
        let quiet = Self.quietAroundNow()
        var key = RecordKey(type: .serviceCase, id: "")
        try anna.edit { editor in
            key = try editor.openCase(NewCaseIntent(provider: "acme", subject: "Outage"))
            let preferences = RecordKey(type: .preferences, id: "anna")
            try editor.write(
                .object(["start": .int(Int64(quiet.start)), "end": .int(Int64(quiet.end))]),
                to: PreferenceFields.quietHours, of: preferences)
        }
        #expect(try await anna.sync().rejected.isEmpty)
        try await ben.sync()
        func send(purpose: String? = nil) async throws -> SyncError? {
            var entry = MessageEntry(channel: .sms, direction: MessageDirection.outbound, purpose: purpose, body: "x")
            entry.urgent = true
            try ben.edit { editor in try editor.append(entry, to: key) }
            return try await ben.sync().rejected.first?.error
        }
        #expect(try await send()?.code == .contactNotAllowed)
        // An entry claiming the override is checked against the policy, not taken on trust.
        var claim = MessageEntry(channel: .sms, direction: MessageDirection.outbound, body: "x")
        (claim.urgent, claim.overridesQuietHours) = (true, true)
        try ben.edit { editor in try editor.append(claim, to: key) }
        #expect(try await ben.sync().rejected.first?.error.code == .contactNotAllowed)
        try sue.edit { editor in try editor.setRouting(of: "acme", urgentInQuietHours: true) }
        #expect(try await sue.sync().rejected.isEmpty)
        #expect(try await send(purpose: "marketing")?.code == .malformed)
        #expect(try await send() == nil)
        // Only supervisors set the policy.
        try ben.edit { editor in
            try editor.write(
                .bool(false), to: RoutingFields.urgentInQuietHours, of: RecordKey(type: .routing, id: "acme"))
        }
        #expect(try await ben.sync().rejected.first?.error.code == .forbiddenField)
        await server.stop()
    }
}
