import ConciergeClient
import ConciergeCore
import ConciergeServer
import Foundation
import Testing

/// Appointments and consent through the real server and the real CLI: slots typed with a zone,
/// quiet hours in the customer's IANA zone (daylight saving included), refusals by rule, two open
/// proposals, and two offline replicas accepting different slots.
@Suite struct AppointmentTests {
    @Test func slotsRespectTheCustomersQuietHoursInTheirZone() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        let anna = try await CLITests.enrolled("anna", on: server)
        let ben = try await CLITests.enrolled("ben", on: server)

        // Preferences of the right shape only; the client says so before the server would.
        for (arguments, says) in [
            (["--time-zone", "Mars/Olympus"], "not an IANA time zone"), (["--quiet", "25:00-08:00"], "time range"),
            (["--quiet", "21:00-21:00"], "time range"), (["--allow", "pigeon"], "not a channel"),
            (["--consent", "lottery"], "names a purpose"),
        ] {
            let refused = try await anna.run(["prefs"] + arguments)
            #expect(refused.status != 0 && refused.output.contains(says), "\(arguments): \(refused.output)")
        }
        #expect(try await anna.pending() == 0)
        let set = try await anna.run("prefs", "--quiet", "21:00-08:00", "--time-zone", "Europe/Berlin", "--sync")
        #expect(set.status == 0 && set.output.contains("pushed 1"), "\(set.output)")
        let id = try await anna.openCase("--subject", "Router blinks red", "--message", "since this morning")
        #expect(try await ben.run("sync").status == 0)

        func propose(_ slots: String..., purpose: String = "callback") async throws -> CLITests.Run {
            try await ben.run(["appointment", "propose", id, "--purpose", purpose] + slots.flatMap { ["--slot", $0] })
        }
        // 22:00 in Berlin is quiet; 10:00 is not.
        let late = try await propose("2027-06-15T22:00+02:00/2027-06-15T22:30+02:00")
        #expect(late.status != 0 && late.output.contains("quietHours"), "\(late.output)")
        // 19:30 UTC is 20:30 in Berlin in January (allowed) and 21:30 in June (quiet): the zone's
        // daylight saving, not a fixed offset.
        let summer = try await propose("2027-06-15T19:30Z/2027-06-15T20:00Z")
        #expect(summer.status != 0 && summer.output.contains("quietHours"), "\(summer.output)")
        let winter = try await propose("2027-01-12T19:30Z/2027-01-12T20:00Z")
        #expect(winter.status == 0, "\(winter.output)")
        // Slots people can read the same way, and that make sense.
        for (slot, says) in [
            ("2027-06-15T10:00/2027-06-15T11:00", "has no time zone"),
            ("2027-06-15T11:00+02:00/2027-06-15T10:00+02:00", "ends before it starts"),
            ("2020-06-15T10:00+02:00/2020-06-15T11:00+02:00", "starts in the past"),
            ("tomorrow", "is not start/end"),
        ] {
            let refused = try await propose(slot)
            #expect(refused.status != 0 && refused.output.contains(says), "\(slot): \(refused.output)")
        }
        let noon = try await propose(
            "2027-06-15T10:00+02:00/2027-06-15T11:00+02:00", "2027-06-16T10:00+02:00/2027-06-16T11:00+02:00")
        #expect(noon.status == 0 && noon.output.contains("customer: "), "\(noon.output)")
        #expect(try await ben.run("sync").output.contains("pushed 2"))

        // Two open proposals with a slot s1: the customer is asked which one.
        #expect(try await anna.run("sync").status == 0)
        let ambiguous = try await anna.run("appointment", "accept", id, "s1")
        #expect(ambiguous.status != 0 && ambiguous.output.contains("pick one with --proposal"), "\(ambiguous.output)")
        let listed = try #require(try await anna.run("appointment", "list", id, "--json").json?.arrayValue)
        let proposals = listed.compactMap { $0["proposal"]?.stringValue }
        #expect(proposals.count == 2)
        let text = try await anna.run("appointment", "list", id)
        #expect(text.output.contains("customer: ") && text.output.contains("Europe/Berlin"), "\(text.output)")

        // Two of Anna's devices accept different slots offline: both end with the same one.
        let tablet = try await CLITests.enrolled("anna", on: server)
        #expect(try await anna.run("appointment", "accept", id, "s1", "--proposal", proposals[1]).status == 0)
        #expect(try await tablet.run("appointment", "accept", id, "s2", "--proposal", proposals[1]).status == 0)
        for cli in [anna, tablet, anna, ben] { #expect(try await cli.run("sync").status == 0) }
        var confirmed: Set<String> = []
        for cli in [anna, tablet, ben] {
            let shown = try #require(try await cli.run("appointment", "list", id, "--json").json?.arrayValue)
            confirmed.insert(shown[1]["confirmedSlot"]?.stringValue ?? "none")
        }
        #expect(confirmed.count == 1 && !confirmed.contains("none"), "\(confirmed)")

        // Marketing without consent is refused (consent is checked before the hour); with consent,
        // and no quiet hours (the test runs at any time of day), it goes.
        let offer = try await ben.run(
            "case", "reply", id, "Our new offer", "--channel", "sms", "--purpose", "marketing")
        #expect(offer.status != 0 && offer.output.contains("consent"), "\(offer.output)")
        #expect(try await anna.run("prefs", "--consent", "marketing", "--quiet", "none", "--sync").status == 0)
        try await ben.run("sync")
        let allowed = try await ben.run(
            "case", "reply", id, "Our new offer", "--channel", "sms", "--purpose", "marketing", "--sync")
        #expect(allowed.status == 0 && allowed.output.contains("pushed 1"), "\(allowed.output)")
        await server.stop()
    }

    /// The server checks what the client checks: a replica that skips the intents is refused, on
    /// both engines, and nothing of the set is kept.
    @Test(arguments: Engine.allCases) func theServerRefusesWhatTheClientWouldHave(engine: Engine) async throws {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let anna = try await server.device("anna")
        let ben = try await server.device("ben")
        var key = RecordKey(type: .serviceCase, id: "")
        try anna.edit { editor in
            key = try editor.openCase(NewCaseIntent(provider: "acme", subject: "No signal"))
            try editor.write(
                .object(["start": 1260, "end": 480]), to: PreferenceFields.quietHours,
                of: RecordKey(type: .preferences, id: "anna"))
            try editor.write(
                .string("Europe/Berlin"), to: PreferenceFields.timeZone, of: RecordKey(type: .preferences, id: "anna"))
        }
        #expect(try await anna.sync().rejected.isEmpty)
        try await ben.sync()
        let berlin = TimeZone(identifier: "Europe/Berlin")!
        func millis(_ year: Int, _ month: Int, _ day: Int, _ hour: Int) -> Int64 {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = berlin
            let date = calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour))!
            return Int64(date.timeIntervalSince1970 * 1000)
        }
        for (slots, purpose, code) in [
            (
                [AppointmentSlot(id: "s1", start: millis(2027, 6, 15, 22), end: millis(2027, 6, 15, 23))], "callback",
                SyncError.Code.contactNotAllowed
            ),
            (
                [AppointmentSlot(id: "s1", start: millis(2027, 6, 15, 11), end: millis(2027, 6, 15, 10))], "callback",
                .malformed
            ),
            (
                [AppointmentSlot(id: "s1", start: millis(2020, 6, 15, 10), end: millis(2020, 6, 15, 11))], "visit",
                .malformed
            ),
            (
                [AppointmentSlot(id: "s1", start: millis(2027, 6, 15, 10), end: millis(2027, 6, 15, 11))], "lunch",
                .malformed
            ),
        ] {
            try ben.edit { editor in
                try editor.append(AppointmentProposalEntry(purpose: purpose, slots: slots), to: key)
            }
            let report = try await ben.sync()
            #expect(report.rejected.first?.error.code == code, "\(purpose) \(slots): \(report.rejected)")
        }
        // Preferences of the wrong shape are refused whole.
        for (field, value) in [
            (PreferenceFields.timeZone, Value.string("Mars/Olympus")),
            (PreferenceFields.quietHours, .object(["start": 600, "end": 600])),
        ] {
            try anna.edit { editor in try editor.write(value, to: field, of: RecordKey(type: .preferences, id: "anna"))
            }
            #expect(try await anna.sync().rejected.first?.error.code == .malformed, "\(field)")
        }
        try anna.edit { editor in
            try editor.add(
                "pigeon", to: PreferenceFields.allowedChannels, of: RecordKey(type: .preferences, id: "anna"))
        }
        #expect(try await anna.sync().rejected.first?.error.code == .malformed)
        // A consent entry without its legal basis is refused too, and one that does not come with
        // the change to `consents` it records.
        for payload: [String: Value] in [
            ["purpose": "marketing", "given": true, "how": "app", "at": 1],
            ["purpose": "marketing", "given": true, "how": "app", "basis": "consent", "at": 1],
        ] {
            try anna.edit { editor in
                try editor.append(
                    ConsentEntry.kind, to: PreferenceFields.consentLog, of: RecordKey(type: .preferences, id: "anna"),
                    payload: payload)
            }
            #expect(try await anna.sync().rejected.first?.error.code == .malformed, "\(payload)")
        }
        let ok = [AppointmentSlot(id: "s1", start: millis(2027, 6, 15, 10), end: millis(2027, 6, 15, 11))]
        try ben.edit { editor in try editor.append(AppointmentProposalEntry(purpose: "callback", slots: ok), to: key) }
        #expect(try await ben.sync().rejected.isEmpty)
        await server.stop()
    }
}
