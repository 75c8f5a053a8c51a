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
