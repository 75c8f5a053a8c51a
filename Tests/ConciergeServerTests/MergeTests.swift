import ConciergeClient
import ConciergeCore
import ConciergeServer
import Foundation
import Testing

/// Merges of cases and customers through the real server and the real CLI: who may merge what,
/// and two offline replicas merging at once (and undoing it) reading the same survivor.
@Suite struct MergeTests {
    static func writeMarker(_ device: TestDevice, _ key: RecordKey, _ value: Value) throws {
        try device.edit { editor in try editor.write(value, to: MergeFields.mergedInto, of: key) }
    }

    static func refusal(_ device: TestDevice) async throws -> SyncError? {
        let report = try await device.sync()
        #expect(report.accepted == 0)
        return report.rejected.first?.error
    }

    @Test(arguments: Engine.allCases) func theServerChecksEveryMerge(engine: Engine) async throws {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        try await server.store.createProvider(id: "globex", name: "Globex")
        try await server.store.createPrincipal(
            Principal(id: "gina", provider: "globex", role: .customer, displayName: "Gina"))
        let anna = try await server.device("anna")
        let carl = try await server.device("carl")
        let gina = try await server.device("gina")
        let ben = try await server.device("ben")
        let first = try SyncIntegrationTests.newCase(anna, subject: "No signal")
        let second = try SyncIntegrationTests.newCase(anna, subject: "Still no signal")
        let carls = try SyncIntegrationTests.newCase(carl, subject: "Bill")
        var ginas = RecordKey(type: .serviceCase, id: "")
        try gina.edit { editor in ginas = try editor.openCase(NewCaseIntent(provider: "globex", subject: "Elsewhere")) }
        for device in [anna, carl, gina] { #expect(try await device.sync().rejected.isEmpty) }
        try await ben.sync()

        // A customer merges nothing, not even their own cases or profile.
        try Self.writeMarker(anna, first, MergeMarker(into: second.id).value)
        #expect(try await Self.refusal(anna)?.code == .forbiddenField)
        try Self.writeMarker(anna, RecordKey(type: .profile, id: "anna"), MergeMarker(into: "carl").value)
        #expect(try await Self.refusal(anna)?.code == .forbiddenField)

        // Staff: a marker of the right shape, into another existing case of the same customer and provider.
        for (value, code) in [
            (Value.string(second.id.rawValue), SyncError.Code.malformed),
            (MergeMarker(into: first.id).value, .invalidMerge),
            (MergeMarker(into: "no-such-case").value, .invalidMerge),
            (MergeMarker(into: carls.id).value, .invalidMerge),
            (MergeMarker(into: ginas.id).value, .outOfScope),
        ] {
            try Self.writeMarker(ben, first, value)
            let error = try await Self.refusal(ben)
            #expect(error?.code == code, "\(value): \(String(describing: error))")
        }
        // (The replica is read before the edit: an edit must not read it again.)
        let merged = try #require(try ben.replica.visibleRecord(first).flatMap(ServiceCase.init))
        let survivor = try #require(try ben.replica.visibleRecord(second).flatMap(ServiceCase.init))
        try ben.edit { editor in try editor.merge(merged, into: survivor, reason: "same outage") }
        #expect(try await ben.sync().accepted == 1)
        // The customer's replica reads the merge too.
        try await anna.sync()
        let annas = MergedCases(try anna.replica.visibleRecords(of: .serviceCase).compactMap(ServiceCase.init))
        #expect(annas.survivor(of: first.id) == second.id)
        #expect(annas.timeline(of: second.id).count == 2)
        // Why staff merged is theirs: the customer's replicas (pulled sets, and a new device's
        // snapshot) never hold the reason; staff's do.
        #expect(try ben.replica.visibleRecord(first)?.mergeMarker?.reason == "same outage")
        #expect(try anna.replica.visibleRecord(first)?.mergeMarker == MergeMarker(into: second.id))
        let annasTablet = try await server.device("anna")
        try await annasTablet.sync()
        #expect(try annasTablet.replica.visibleRecord(first)?.mergeMarker == MergeMarker(into: second.id))
        #expect(try annasTablet.canonicalState() == anna.canonicalState())

        // Customers: into an existing customer of the same provider.
        for (into, code) in [
            ("nobody", SyncError.Code.invalidMerge), ("ben", .invalidMerge), ("gina", .outOfScope),
            ("carl", .invalidMerge),
        ] {
            try Self.writeMarker(ben, RecordKey(type: .profile, id: "carl"), MergeMarker(into: RecordID(into)).value)
            let error = try await Self.refusal(ben)
            #expect(error?.code == code, "\(into): \(String(describing: error))")
        }
        try ben.edit { editor in try editor.mergeCustomer("carl", into: "anna", reason: "same person, new number") }
        #expect(try await ben.sync().accepted == 1)
        // A link names a case of the provider in the author's scope.
        try ben.edit { editor in try editor.add(ginas.id.rawValue, to: CaseFields.links, of: first) }
        #expect(try await Self.refusal(ben)?.code == .outOfScope)
        // Once Carl is Anna, his case may merge into hers.
        try Self.writeMarker(ben, carls, MergeMarker(into: second.id).value)
        #expect(try await ben.sync().accepted == 1)
        await server.stop()
    }

    /// Two agents offline merge A into B and B into A; after syncing, both read the smaller id as
    /// the survivor with both timelines. Both undo offline; after syncing, both read two cases.
    @Test func aMergeAndItsUndoOnTwoOfflineReplicasConverge() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        let anna = try await CLITests.enrolled("anna", on: server)
        let ben = try await CLITests.enrolled("ben", on: server)
        let sue = try await CLITests.enrolled("sue", on: server)
        let one = try await anna.openCase("--subject", "No signal", "--message", "since noon")
        let two = try await anna.openCase("--subject", "Internet down", "--message", "the router blinks red")
        let (survivor, merged) = one < two ? (one, two) : (two, one)
        for cli in [ben, sue] { #expect(try await cli.run("sync").status == 0) }

        // A customer may not merge, and nothing is saved.
        let refused = try await anna.run("case", "merge", one, "--into", two)
        #expect(refused.status != 0 && refused.output.contains("only staff merge cases"), "\(refused.output)")
        let notMerged = try await ben.run("case", "unmerge", one)
        #expect(notMerged.status != 0 && notMerged.output.contains("is not merged"), "\(notMerged.output)")

        #expect(try await ben.run("case", "merge", one, "--into", two, "--reason", "one outage").status == 0)
        #expect(try await sue.run("case", "merge", two, "--into", one).status == 0)
        for cli in [ben, sue, ben] { #expect(try await cli.run("sync").status == 0) }
        for cli in [ben, sue] {
            let shown = try #require(try await cli.run("case", "show", survivor, "--json").json)
            #expect(shown["mergedInto"] == .null)
            #expect(shown["merged"] == .array([.string(merged)]))
            let texts = shown["timeline"]?.arrayValue?.compactMap { $0["text"]?.stringValue } ?? []
            #expect(Set(texts) == ["since noon", "the router blinks red"], "\(texts)")
            let other = try #require(try await cli.run("case", "show", merged, "--json").json)
            #expect(other["mergedInto"] == .string(survivor))
            #expect(try await cli.run("inbox", "--json").json?.arrayValue?.count == 1)
        }
        let text = try await ben.run("case", "show", merged)
        #expect(text.output.contains("into \(survivor)"), "\(text.output)")

        #expect(try await ben.run("case", "unmerge", one).status == 0)
        #expect(try await sue.run("case", "unmerge", two).status == 0)
        for cli in [ben, sue, ben] { #expect(try await cli.run("sync").status == 0) }
        for cli in [ben, sue] {
            for id in [one, two] {
                let shown = try #require(try await cli.run("case", "show", id, "--json").json)
                #expect(shown["mergedInto"] == .null && shown["merged"] == .array([]), "\(id)")
                #expect(shown["timeline"]?.arrayValue?.count == 1)
            }
            #expect(try await cli.run("inbox", "--json").json?.arrayValue?.count == 2)
        }

        // Related cases are linked without merging, both ways, and unlinked; a customer may not.
        #expect(try await ben.run("case", "link", one, two, "--sync").status == 0)
        try await sue.run("sync")
        for (cli, id, other) in [(ben, one, two), (sue, two, one)] {
            let shown = try #require(try await cli.run("case", "show", id, "--json").json)
            #expect(shown["links"] == .array([.string(other)]) && shown["mergedInto"] == .null)
        }
        let annaLinks = try await anna.run("case", "link", one, two)
        #expect(annaLinks.status != 0 && annaLinks.output.contains("only staff link cases"), "\(annaLinks.output)")
        #expect(try await ben.run("case", "link", one, two, "--remove", "--sync").status == 0)
        let unlinked = try #require(try await ben.run("case", "show", two, "--json").json)
        #expect(unlinked["links"] == .array([]))

        // Customers: merged and unmerged by staff; the server refuses a customer that does not exist.
        let customer = try await ben.run(
            "customer", "merge", "carl", "--into", "anna", "--reason", "new number", "--sync")
        #expect(customer.status == 0 && customer.output.contains("pushed 1"), "\(customer.output)")
        let nobody = try await ben.run("customer", "merge", "anna", "--into", "nobody", "--sync")
        #expect(nobody.output.contains("invalidMerge"), "\(nobody.output)")
        let undo = try await ben.run("customer", "unmerge", "carl", "--sync")
        #expect(undo.status == 0 && undo.output.contains("pushed 1"), "\(undo.output)")
        await server.stop()
    }
}
