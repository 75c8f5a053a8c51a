import ConciergeClient
import ConciergeCore
import ConciergeServer
import Foundation
import Testing

/// The field technician's day through the real server and the real CLI: the day's visits, work
/// offline (check-in, report, check-out), one sync, and the agent seeing the report and the case
/// resolved; only the assigned technician reports.
@Suite struct FieldWorkTests {
    @Test func aTechnicianWorksOfflineAndTheAgentSeesTheReport() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        let anna = try await CLITests.enrolled("anna", on: server)
        let ben = try await CLITests.enrolled("ben", on: server)
        let tom = try await CLITests.enrolled("tom", on: server)
        let id = try await anna.openCase("--subject", "No internet", "--message", "the fibre box is dark")
        try await ben.run("sync")

        // Tomorrow 10:00 UTC: a visit, agreed by Anna.
        let tomorrow = Date().addingTimeInterval(86_400)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let day = calendar.dateComponents([.year, .month, .day], from: tomorrow)
        let date = String(format: "%04d-%02d-%02d", day.year!, day.month!, day.day!)
        #expect(try await ben.run("case", "assign", id, "tom").status == 0)
        let proposed = try await ben.run(
            "appointment", "propose", id, "--purpose", "visit", "--slot", "\(date)T10:00Z/\(date)T12:00Z", "--sync")
        #expect(proposed.status == 0 && proposed.output.contains("pushed 2"), "\(proposed.output)")
        try await anna.run("sync")
        #expect(try await anna.run("appointment", "accept", id, "s1", "--sync").status == 0)
        #expect(try await tom.run("sync").status == 0)
        let day1 = try #require(try await tom.run("visit", "list", "--day", date, "--json").json?.arrayValue)
        #expect(day1.compactMap { $0["case"]?.stringValue } == [id], "\(day1)")

        // Only the assigned technician reports; the client says so before the server would.
        let byAgent = try await ben.run("visit", "report", id, "--diagnosis", "x", "--done", "y")
        #expect(byAgent.status != 0 && byAgent.output.contains("only the technician"), "\(byAgent.output)")
        let empty = try await tom.run("visit", "report", id, "--diagnosis", "", "--done", "y")
        #expect(empty.status != 0 && empty.output.contains("diagnosis"), "\(empty.output)")

        // Offline all day: nothing is sent until Tom syncs.
        #expect(try await tom.run("visit", "checkin", id).status == 0)
        let report = try await tom.run(
            "visit", "report", id, "--diagnosis", "ONT power supply failed", "--done", "replaced the ONT", "--part",
            "ONT G-240", "--solved", "--confirmed")
        #expect(report.status == 0, "\(report.output)")
        #expect(try await tom.run("visit", "checkout", id).status == 0)
        #expect(try await tom.pending() ?? 0 >= 1)
        try await ben.run("sync")
        #expect(try await Self.status(ben, id) == "new")
        let synced = try await tom.run("sync")
        #expect(synced.status == 0 && !synced.output.contains("rejected"), "\(synced.output)")

        // The agent sees the report, the visit and the case resolved, to close it.
        try await ben.run("sync")
        let shown = try await ben.run("case", "show", id)
        for text in [
            "visit report: ONT power supply failed; did: replaced the ONT; parts: ONT G-240; solved, confirmed by the customer",
            "arrived on site", "left the site", "status open -> resolved",
        ] {
            #expect(shown.output.contains(text), "\(text): \(shown.output)")
        }
        #expect(try await Self.status(ben, id) == "resolved")

        // What became of the visit: staff record it; a customer may not.
        let byCustomer = try await anna.run("appointment", "outcome", id, "--done")
        #expect(byCustomer.status != 0 && byCustomer.output.contains("staff record"), "\(byCustomer.output)")
        let badParty = try await ben.run("appointment", "outcome", id, "--missed-by", "nobody")
        #expect(badParty.status != 0 && badParty.output.contains("customer or provider"), "\(badParty.output)")
        #expect(try await ben.run("appointment", "outcome", id, "--done", "--sync").status == 0)
        let listed = try await anna.run("appointment", "list", id)
        #expect(!listed.output.contains("took place"))
        try await anna.run("sync")
        let afterSync = try await anna.run("appointment", "list", id)
        #expect(afterSync.output.contains("confirmed s1, took place"), "\(afterSync.output)")
        #expect(try await ben.run("case", "close", id, "--sync").status == 0)
        #expect(try await Self.status(anna, id, sync: true) == "closed")
        await server.stop()
    }

    static func status(_ cli: CLITests.CLI, _ id: String, sync: Bool = false) async throws -> String? {
        if sync { try await cli.run("sync") }
        return try await cli.run("case", "show", id, "--json").json?["status"]?.stringValue
    }

    /// The server refuses field work from anyone but the assigned technician, and a report of the
    /// wrong shape, on both engines.
    @Test(arguments: Engine.allCases) func onlyTheAssignedTechnicianReports(engine: Engine) async throws {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let anna = try await server.device("anna")
        let sue = try await server.device("sue")
        let tom = try await server.device("tom")
        var key = RecordKey(type: .serviceCase, id: "")
        try anna.edit { editor in key = try editor.openCase(NewCaseIntent(provider: "acme", subject: "Dark box")) }
        #expect(try await anna.sync().rejected.isEmpty)
        try await sue.sync()
        let report = VisitReportEntry(
            appointment: nil, diagnosis: "d", done: "x", solved: true, customerConfirmed: false)
        // Not assigned yet: Tom does not even see the case; a supervisor is not a technician.
        try tom.edit { editor in try editor.append(report, to: key) }
        #expect(try await tom.sync().rejected.first?.error.code == .outOfScope)
        try sue.edit { editor in try editor.append(report, to: key) }
        #expect(try await sue.sync().rejected.first?.error.code == .forbiddenField)
        try sue.edit { editor in try editor.assign(key, to: "tom") }
        #expect(try await sue.sync().rejected.isEmpty)
        try await tom.sync()
        try tom.edit { editor in
            try editor.append(
                EntryKind.visitReport, to: CaseFields.timeline, of: key, payload: ["solved": true],
                personal: ["done": "x"])
        }
        #expect(try await tom.sync().rejected.first?.error.code == .malformed)
        try tom.edit { editor in try editor.append(report, to: key) }
        #expect(try await tom.sync().rejected.isEmpty)
        try await sue.sync()
        #expect(try sue.replica.visibleRecord(key).flatMap(ServiceCase.init)?.status == .resolved)
        // An outcome names a confirmed appointment of the case, and is staff's.
        let outcome = AppointmentOutcomeEntry(appointment: "no-such-proposal", outcome: .done)
        try sue.edit { editor in try editor.append(outcome, to: key) }
        #expect(try await sue.sync().rejected.first?.error.code == .malformed)
        try await anna.sync()
        try anna.edit { editor in try editor.append(outcome, to: key) }
        #expect(try await anna.sync().rejected.first?.error.code == .forbiddenField)
        await server.stop()
    }
}
