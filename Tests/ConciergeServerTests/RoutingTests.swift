import ConciergeClient
import ConciergeCore
import ConciergeServer
import Foundation
import Testing

/// Routing to specialists through the real server and the real CLI: the directory, automatic
/// assignment by the settled rule (skill, shift, capacity, continuity), waiting cases, handoffs to
/// existing staff only, and what the customer sees of them.
@Suite struct RoutingTests {
    static func addSpecialists(_ server: TestServer) async throws {
        for id in ["fiona", "felix"] {
            try await server.store.createPrincipal(
                Principal(id: PrincipalID(id), provider: "acme", role: .specialist, displayName: id.capitalized))
        }
    }

    static func show(_ cli: CLITests.CLI, _ id: String) async throws -> Value {
        try #require(try await cli.run("case", "show", id, "--json").json)
    }

    static func entries(_ shown: Value, _ kind: String) -> [Value] {
        (shown["timeline"]?.arrayValue ?? []).filter { $0["kind"]?.stringValue == kind }
    }

    @Test func casesGoToTheSpecialistWhoCanTakeThem() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        try await Self.addSpecialists(server)
        let sue = try await CLITests.enrolled("sue", on: server)
        let ben = try await CLITests.enrolled("ben", on: server)
        let anna = try await CLITests.enrolled("anna", on: server)
        let carl = try await CLITests.enrolled("carl", on: server)
        let fiona = try await CLITests.enrolled("fiona", on: server)

        // Only supervisors manage the directory and the table; the client says so before the server.
        let notSupervisor = try await ben.run("staff", "set", "ben", "--skill", "fibre")
        #expect(
            notSupervisor.status != 0 && notSupervisor.output.contains("supervisors manage"), "\(notSupervisor.output)")
        let notListed = try await ben.run("staff", "status", "onShift")
        #expect(notListed.status != 0 && notListed.output.contains("not in the staff directory"), "\(notListed.output)")
        let badCapacity = try await sue.run("staff", "set", "fiona", "--capacity", "pigeon=3")
        #expect(badCapacity.status != 0 && badCapacity.output.contains("capacity looks like"), "\(badCapacity.output)")
        // The server refuses a directory entry for someone who is not staff here.
        #expect(try await sue.run("staff", "set", "anna", "--name", "Anna").status == 0)
        let customerEntry = try await sue.run("sync")
        #expect(customerEntry.output.contains("outOfScope"), "\(customerEntry.output)")

        for (id, capacity) in [("fiona", "app=2,chat=2"), ("felix", "app=3")] {
            let set = try await sue.run(
                "staff", "set", id, "--name", id.capitalized, "--role", "specialist", "--skill", "fibre", "--capacity",
                capacity)
            #expect(set.status == 0, "\(set.output)")
            #expect(try await sue.run("staff", "status", "onShift", "--for", id).status == 0)
        }
        #expect(try await sue.run("routing", "set", "--category", "internet=fibre", "--sync").status == 0)
        let listed = try #require(try await sue.run("staff", "list", "--json").json?.arrayValue)
        #expect(listed.compactMap { $0["id"]?.stringValue } == ["felix", "fiona"], "\(listed)")

        // The most spare capacity first: felix (3 on app) over fiona (2).
        let first = try await carl.openCase("--subject", "No signal", "--category", "internet", "--message", "dead")
        try await sue.run("sync")
        var shown = try await Self.show(sue, first)
        #expect(shown["assignee"] == "felix" && shown["requiredSkill"] == "fibre", "\(shown)")
        let assignment = try #require(Self.entries(shown, EntryKind.assignment).first)
        #expect(assignment["text"]?.stringValue?.contains("spareCapacity") == true, "\(assignment)")
        // Continuity: carl's next case goes to felix again, though fiona has as much room now.
        let second = try await carl.openCase("--subject", "Still slow", "--category", "internet")
        try await sue.run("sync")
        shown = try await Self.show(sue, second)
        #expect(shown["assignee"] == "felix", "\(shown)")
        #expect(Self.entries(shown, EntryKind.assignment).first?["text"]?.stringValue?.contains("continuity") == true)
        // Anna is new to both: fiona has 2 free, felix 1.
        let third = try await anna.openCase("--subject", "Router blinks", "--category", "internet")
        try await sue.run("sync")
        #expect(try await Self.show(sue, third)["assignee"] == "fiona")
        // The customer sees who has the case, never how routing chose.
        shown = try await Self.show(anna, third)
        #expect(shown["assignee"] == "fiona" && Self.entries(shown, EntryKind.assignment).isEmpty, "\(shown)")

        // Nobody free: the case waits, and goes to the first who comes on shift.
        #expect(try await sue.run("staff", "status", "off", "--for", "fiona").status == 0)
        #expect(try await sue.run("staff", "status", "off", "--for", "felix", "--sync").status == 0)
        let fourth = try await anna.openCase("--subject", "Outage again", "--category", "internet")
        try await sue.run("sync")
        #expect(try await Self.show(sue, fourth)["assignee"] == .null)
        let waiting = try #require(try await sue.run("routing", "show", "--json").json)
        #expect(waiting["waiting"]?.arrayValue?.compactMap { $0["case"]?.stringValue } == [fourth], "\(waiting)")
        try await fiona.run("sync")
        #expect(try await fiona.run("staff", "status", "onShift", "--sync").status == 0)
        try await sue.run("sync")
        #expect(try await Self.show(sue, fourth)["assignee"] == "fiona")
        #expect(try await sue.run("routing", "show", "--json").json?["waiting"] == .array([]))

        // A handoff goes to an existing staff member of the provider, with a summary.
        let unknown = try await sue.run(
            "case", "handoff", third, "nobody", "--summary", "router replaced", "--sync")
        #expect(
            unknown.output.contains("outOfScope") && unknown.output.contains("no staff member nobody"),
            "\(unknown.output)")
        let toCustomer = try await sue.run("case", "assign", third, "carl", "--sync")
        #expect(toCustomer.output.contains("outOfScope"), "\(toCustomer.output)")
        let noSummary = try await sue.run("case", "handoff", third, "felix", "--summary", " ")
        #expect(noSummary.status != 0 && noSummary.output.contains("summary"), "\(noSummary.output)")
        let handed = try await sue.run(
            "case", "handoff", third, "felix", "--summary", "router replaced, line still down", "--reason",
            "needs a line test", "--team", "fibre", "--sync")
        #expect(handed.status == 0 && handed.output.contains("pushed 1"), "\(handed.output)")
        try await sue.run("sync")
        let staffView = try await sue.run("case", "show", third)
        #expect(staffView.output.contains("[why: needs a line test]"), "\(staffView.output)")
        try await anna.run("sync")
        let customerView = try await anna.run("case", "show", third)
        #expect(
            customerView.output.contains("handed off to felix (team fibre): router replaced"), "\(customerView.output)")
        #expect(!customerView.output.contains("line test"), "\(customerView.output)")
        // The workloads followed: felix holds three, fiona one (the fourth case).
        let loads = try #require(try await sue.run("staff", "list", "--json").json?.arrayValue)
        #expect(loads.map { $0["openCases"] } == [.int(3), .int(1)], "\(loads)")

        // assign --auto asks the server again; a customer may not.
        let byCustomer = try await anna.run("case", "assign", third, "--auto")
        #expect(byCustomer.status != 0 && byCustomer.output.contains("staff assign cases"), "\(byCustomer.output)")
        #expect(try await sue.run("case", "assign", third, "--auto", "--sync").status == 0)
        try await sue.run("sync")
        shown = try await Self.show(sue, third)
        // felix is off shift; fiona worked with anna before.
        #expect(shown["assignee"] == "fiona", "\(shown)")
        #expect(Self.entries(shown, EntryKind.assignment).last?["text"]?.stringValue?.contains("continuity") == true)
        await server.stop()
    }

    /// The same rule on both engines, through the reaction inside the push: closing a case frees
    /// capacity and the waiting case takes it; supervisors read the workloads.
    @Test(arguments: Engine.allCases) func closingACaseLetsAWaitingCaseIn(engine: Engine) async throws {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        try await Self.addSpecialists(server)
        let sue = try await server.device("sue")
        let anna = try await server.device("anna")
        try sue.edit { editor in
            var change = Editor.StaffChange(provider: "acme")
            change.addSkills = ["fibre"]
            change.capacity = Capacity(["*": 1])
            try editor.setStaff("fiona", change)
            try editor.setAvailability(.onShift, of: "fiona")
        }
        #expect(try await sue.sync().rejected.isEmpty)
        var cases: [RecordKey] = []
        for subject in ["One", "Two"] {
            try anna.edit { editor in
                cases.append(try editor.openCase(NewCaseIntent(provider: "acme", subject: subject, category: "x")))
            }
            #expect(try await anna.sync().rejected.isEmpty)
        }
        try await sue.sync()
        func assignee(_ key: RecordKey) throws -> PrincipalID? {
            try sue.replica.visibleRecord(key).flatMap(ServiceCase.init)?.assignee
        }
        #expect(try assignee(cases[0]) == "fiona")
        #expect(try assignee(cases[1]) == nil)
        let workload = { try Workload(sue.replica.visibleRecord(RecordKey(type: .workload, id: "fiona"))) }
        #expect(try workload().openCases == [cases[0].id.rawValue: "app"])

        // The customer closes the first case.
        let open = try #require(try anna.replica.visibleRecord(cases[0]).flatMap(ServiceCase.init))
        try anna.edit { editor in _ = try editor.changeStatus(of: open, to: .closed) }
        #expect(try await anna.sync().rejected.isEmpty)
        try await sue.sync()
        #expect(try assignee(cases[1]) == "fiona")
        #expect(try workload().openCases == [cases[1].id.rawValue: "app"])
        let continuity = try Continuity(sue.replica.visibleRecord(RecordKey(type: .continuity, id: "anna")))
        #expect(continuity.workedWith.keys.sorted() == ["fiona"])
        // Nobody but the server writes workloads or the roster.
        try sue.edit { editor in
            try editor.write(.object([:]), to: WorkloadFields.openCases, of: RecordKey(type: .workload, id: "fiona"))
        }
        #expect(try await sue.sync().rejected.first?.error.code == .forbiddenField)
        try sue.edit { editor in
            try editor.write(.object([:]), to: RoutingFields.roster, of: RecordKey(type: .routing, id: "acme"))
        }
        #expect(try await sue.sync().rejected.first?.error.code == .forbiddenField)
        await server.stop()
    }
}
