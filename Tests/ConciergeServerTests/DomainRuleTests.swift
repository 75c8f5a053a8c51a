import ConciergeClient
import ConciergeCore
import ConciergeServer
import Foundation
import Testing

/// Rules the record policies enforce on the server, through the real server and real clients.
@Suite struct DomainRuleTests {
    static func statusChange(_ device: TestDevice, _ key: RecordKey, from: CaseStatus, to: CaseStatus) throws {
        try device.edit { editor in
            try editor.append(
                EntryKind.statusChange, to: CaseFields.timeline, of: key,
                payload: ["from": .string(from.rawValue), "to": .string(to.rawValue)])
        }
    }

    static func outbound(_ device: TestDevice, _ key: RecordKey, channel: String, purpose: String? = nil) throws {
        var payload: [String: Value] = ["channel": .string(channel), "direction": "outbound"]
        if let purpose { payload["purpose"] = .string(purpose) }
        try device.edit { editor in
            try editor.append(
                EntryKind.message, to: CaseFields.timeline, of: key, payload: payload,
                personal: ["body": "About your case"])
        }
    }

    /// A status change's `from` is checked against the statuses the case has held in merged
    /// state, not taken from the client: a customer's `resolved -> open` on a case that is `new`
    /// is refused, and accepted once the case was resolved.
    @Test(arguments: Engine.allCases) func aStatusChangeNamingAFalseFromIsRefused(engine: Engine) async throws {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let anna = try await server.device("anna")
        let ben = try await server.device("ben")
        let key = try SyncIntegrationTests.newCase(anna, subject: "Router drops every evening")
        #expect(try await anna.sync().accepted == 1)

        try Self.statusChange(anna, key, from: .resolved, to: .open)
        let refused = try await anna.sync()
        #expect(refused.accepted == 0)
        #expect(refused.rejected.first?.error.code == .invalidTransition)
        #expect(refused.rejected.first?.error.message.contains("never been resolved") == true)

        try await ben.sync()
        try Self.statusChange(ben, key, from: .new, to: .open)
        try Self.statusChange(ben, key, from: .open, to: .resolved)
        #expect(try await ben.sync().accepted == 2)
        try await anna.sync()
        try Self.statusChange(anna, key, from: .resolved, to: .open)
        let accepted = try await anna.sync()
        #expect(accepted.accepted == 1 && accepted.rejected.isEmpty)
        let record = try #require(try anna.replica.visibleRecord(key))
        let view = try #require(ServiceCase(record))
        #expect(view.status == .open)
        await server.stop()
    }

    /// A proactive outbound contact needs the channel allowed, consent for its purpose and a time
    /// outside quiet hours; an answer on the channel the customer wrote on within 24 hours is not
    /// proactive. Refusals are `contactNotAllowed`, naming the rule.
    @Test(arguments: Engine.allCases) func proactiveContactFollowsTheCustomersPreferences(engine: Engine)
        async throws
    {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let anna = try await server.device("anna")
        let ben = try await server.device("ben")
        let key = try SyncIntegrationTests.newCase(anna, subject: "Router drops every evening")
        let preferences = RecordKey(type: .preferences, id: "anna")
        try anna.edit { editor in
            try editor.add(Channel.email.rawValue, to: PreferenceFields.allowedChannels, of: preferences)
        }
        #expect(try await anna.sync().accepted == 2)
        try await ben.sync()

        // SMS is not allowed, and Anna never wrote by SMS: proactive, refused.
        try Self.outbound(ben, key, channel: Channel.sms.rawValue)
        var report = try await ben.sync()
        #expect(report.rejected.first?.error.code == .contactNotAllowed)
        #expect(report.rejected.first?.error.message.hasPrefix("channelAllowed:") == true)

        // E-mail is allowed, but marketing needs consent.
        try Self.outbound(ben, key, channel: Channel.email.rawValue, purpose: "marketing")
        report = try await ben.sync()
        #expect(report.rejected.first?.error.code == .contactNotAllowed)
        #expect(report.rejected.first?.error.message.hasPrefix("consent:") == true)

        // Service contact by e-mail is allowed; an answer in the app, where Anna just wrote, is not
        // proactive even though she allows only e-mail.
        try Self.outbound(ben, key, channel: Channel.email.rawValue)
        try Self.outbound(ben, key, channel: Channel.app.rawValue)
        report = try await ben.sync()
        #expect(report.accepted == 2 && report.rejected.isEmpty)

        try await anna.sync()
        let record = try #require(try anna.replica.visibleRecord(key))
        let view = try #require(ServiceCase(record))
        #expect(view.timeline.filter { $0.kind == EntryKind.message }.count == 3)
        await server.stop()
    }

    /// A customer never hears of internal notes: not of the note, and not of its erasure; the
    /// erasure of a message she sees reaches her.
    @Test(arguments: Engine.allCases) func erasingAnInternalNoteStaysInternal(engine: Engine) async throws {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let anna = try await server.device("anna")
        let ben = try await server.device("ben")
        let key = try SyncIntegrationTests.newCase(anna, subject: "Router drops every evening")
        try await anna.sync()
        try await ben.sync()
        var note: EntryID?
        var message: EntryID?
        try ben.edit { editor in note = try editor.note(on: key, body: "Customer sounded upset") }
        try ben.edit { editor in message = try editor.reply(on: key, body: "We are on it") }
        #expect(try await ben.sync().accepted == 2)
        #expect(try await anna.sync().pulledChangeSets == 1)
        try ben.edit { editor in try editor.redactEntry(try #require(note), in: CaseFields.timeline, of: key) }
        try ben.edit { editor in try editor.redactEntry(try #require(message), in: CaseFields.timeline, of: key) }
        #expect(try await ben.sync().accepted == 2)
        #expect(try await anna.sync().pulledChangeSets == 1)
        try await SyncIntegrationTests.expectMatchesProjection(anna, server)
        try await SyncIntegrationTests.expectMatchesProjection(ben, server)
        await server.stop()
    }
}
