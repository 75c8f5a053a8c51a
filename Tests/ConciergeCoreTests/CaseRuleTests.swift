import ConciergeCore
import Foundation
import Testing

@Suite struct CaseRuleTests {
    @Test func statusIsNewWithoutStatusChanges() throws {
        var builder = CaseBuilder()
        try builder.message()
        #expect(builder.serviceCase.status == .new)
    }

    @Test func latestStatusChangeNamesTheStatus() throws {
        var builder = CaseBuilder()
        try builder.status(.new, .open)
        try builder.status(.open, .onHold)
        #expect(builder.serviceCase.status == .onHold)
    }

    @Test(arguments: [CaseStatus.pending, .resolved])
    func customerMessageAfterPendingOrResolvedReopens(status: CaseStatus) throws {
        var builder = CaseBuilder()
        try builder.status(.new, .open)
        try builder.status(.open, status)
        #expect(builder.serviceCase.status == status)
        try builder.message()
        #expect(builder.serviceCase.status == .open)
    }

    @Test func integrationMessageCountsAsCustomerMessage() throws {
        var builder = CaseBuilder()
        try builder.status(.new, .open)
        try builder.status(.open, .pending)
        try builder.message(by: CaseBuilder.integration)
        #expect(builder.serviceCase.status == .open)
    }

    @Test func othersMessagesDoNotReopen() throws {
        var builder = CaseBuilder()
        try builder.status(.new, .open)
        try builder.status(.open, .resolved)
        try builder.message(by: CaseBuilder.otherCustomer)
        try builder.message(by: CaseBuilder.agent, direction: MessageDirection.outbound)
        try builder.message(direction: MessageDirection.outbound)
        #expect(builder.serviceCase.status == .resolved)
    }

    @Test func onHoldIsNotReopenedByAMessage() throws {
        var builder = CaseBuilder()
        try builder.status(.new, .open)
        try builder.status(.open, .onHold)
        try builder.message()
        #expect(builder.serviceCase.status == .onHold)
    }

    @Test func closedDominatesEvenALaterReopen() throws {
        var builder = CaseBuilder()
        try builder.status(.new, .open)
        try builder.status(.open, .closed, by: CaseBuilder.customer)
        try builder.status(.resolved, .open)  // concurrent offline edit with a larger stamp
        try builder.message()
        #expect(builder.serviceCase.status == .closed)
        #expect(builder.serviceCase.messagesAfterClose.count == 1)
    }

    @Test func followUpIDIsUUIDv5OfTheCaseID() {
        // Worked out with Python: uuid.uuid5(uuid.UUID("6f1c2f9e-3b0d-4a55-9e43-1f2d3c4b5a69"), "follow-up")
        #expect(FollowUp.caseID(for: "6f1c2f9e-3b0d-4a55-9e43-1f2d3c4b5a69") == "36ecf0eb-1d23-5637-b04e-f0f87600afa1")
        // Any other id: uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, "concierge:follow-up"), "my-case-1")
        #expect(FollowUp.caseID(for: "my-case-1") == "d6bc4fb3-1aa7-58e0-a023-53649cf7ae26")
        // RFC 9562's example: uuid5(NAMESPACE_DNS, "www.example.com")
        let dns = UUID(uuidString: "6ba7b810-9dad-11d1-80b4-00c04fd430c8")!
        #expect(
            FollowUp.uuidV5(namespace: dns, name: "www.example.com").uuidString.lowercased()
                == "2ed6657d-e927-568b-95e1-2665a8aea6a2")
    }

    struct Transition: CustomTestStringConvertible, Sendable {
        var from: CaseStatus, to: CaseStatus, role: Role, ownCase: Bool, allowed: Bool
        var testDescription: String {
            "\(from)->\(to) by \(role)\(ownCase ? " (own case)" : "") \(allowed ? "allowed" : "refused")"
        }
    }

    static let transitions: [Transition] = [
        .init(from: .new, to: .open, role: .agent, ownCase: false, allowed: true),
        .init(from: .new, to: .open, role: .customer, ownCase: true, allowed: false),
        .init(from: .open, to: .pending, role: .technician, ownCase: false, allowed: true),
        .init(from: .open, to: .onHold, role: .specialist, ownCase: false, allowed: true),
        .init(from: .open, to: .resolved, role: .supervisor, ownCase: false, allowed: true),
        .init(from: .open, to: .resolved, role: .customer, ownCase: true, allowed: false),
        .init(from: .pending, to: .open, role: .agent, ownCase: false, allowed: true),
        .init(from: .onHold, to: .resolved, role: .agent, ownCase: false, allowed: true),
        .init(from: .resolved, to: .open, role: .customer, ownCase: true, allowed: true),
        .init(from: .resolved, to: .open, role: .customer, ownCase: false, allowed: false),
        .init(from: .resolved, to: .open, role: .agent, ownCase: false, allowed: true),
        .init(from: .resolved, to: .closed, role: .agent, ownCase: false, allowed: true),
        .init(from: .resolved, to: .closed, role: .customer, ownCase: true, allowed: true),
        .init(from: .open, to: .closed, role: .customer, ownCase: true, allowed: true),
        .init(from: .new, to: .closed, role: .customer, ownCase: true, allowed: true),
        .init(from: .open, to: .closed, role: .agent, ownCase: false, allowed: false),
        .init(from: .open, to: .closed, role: .customer, ownCase: false, allowed: false),
        .init(from: .closed, to: .closed, role: .customer, ownCase: true, allowed: false),
        .init(from: .closed, to: .open, role: .supervisor, ownCase: false, allowed: false),
        .init(from: .open, to: .open, role: .agent, ownCase: false, allowed: false),
        .init(from: .open, to: .resolved, role: .integration, ownCase: false, allowed: false),
    ]

    @Test(arguments: transitions)
    func transitionTable(transition: Transition) {
        let author = Author(principal: transition.ownCase ? "cust-1" : "someone", role: transition.role)
        #expect(
            CaseStatus.isAllowed(from: transition.from, to: transition.to, by: author, caseCustomer: "cust-1")
                == transition.allowed)
    }

    static func proposal(_ builder: inout CaseBuilder) throws -> EntryID {
        try builder.append(
            EntryKind.appointmentProposal, by: CaseBuilder.agent, id: "prop-1",
            payload: [
                "purpose": "visit",
                "slots": [["id": "s1", "start": 100, "end": 200], ["id": "s2", "start": 300, "end": 400]],
            ])
    }

    @Test func onlyTheCustomersAcceptanceConfirmsASlot() throws {
        var builder = CaseBuilder()
        let proposal = try Self.proposal(&builder)
        try builder.append(
            EntryKind.appointmentAnswer, by: CaseBuilder.agent,
            payload: ["proposal": .string(proposal.rawValue), "slot": "s1", "answer": "accept"])
        try builder.append(
            EntryKind.appointmentAnswer, by: CaseBuilder.otherCustomer,
            payload: ["proposal": .string(proposal.rawValue), "slot": "s1", "answer": "accept"])
        #expect(builder.serviceCase.appointments.first?.isConfirmed == false)
        try builder.append(
            EntryKind.appointmentAnswer, by: CaseBuilder.customer,
            payload: ["proposal": .string(proposal.rawValue), "slot": "s2", "answer": "accept"])
        #expect(builder.serviceCase.appointments.first?.confirmedSlot == "s2")
    }

    @Test func laterAcceptanceWinsAndSupersedesTheOther() throws {
        var builder = CaseBuilder()
        let proposal = try Self.proposal(&builder)
        let first = try builder.append(
            EntryKind.appointmentAnswer, by: CaseBuilder.customer,
            payload: ["proposal": .string(proposal.rawValue), "slot": "s1", "answer": "accept"])
        let second = try builder.append(
            EntryKind.appointmentAnswer, by: CaseBuilder.customer,
            payload: ["proposal": .string(proposal.rawValue), "slot": "s2", "answer": "accept"])
        try builder.append(
            EntryKind.appointmentAnswer, by: CaseBuilder.customer,
            payload: ["proposal": .string(proposal.rawValue), "slot": "s1", "answer": "decline"])
        let appointment = try #require(builder.serviceCase.appointments.first)
        #expect(appointment.confirmedSlot == "s2")
        #expect(appointment.confirmingAnswer == second)
        #expect(appointment.supersededAnswers == [first])
        #expect(appointment.declinedSlots == ["s1"])
    }

    @Test func conflictViewGroupsWritesWithTheSameBase() throws {
        let replicaB = ReplicaID("00000000-0000-4000-8000-000000000002")!
        var record = Record(key: RecordKey(type: .serviceCase, id: "c"))
        let base = Stamp(hlc: HLC(millis: 1), replica: CaseBuilder.replica)
        let w1 = Stamp(hlc: HLC(millis: 5), replica: CaseBuilder.replica)
        let w2 = Stamp(hlc: HLC(millis: 5), replica: replicaB)
        let w3 = Stamp(hlc: HLC(millis: 9), replica: CaseBuilder.replica)
        for (stamp, basis, value) in [(base, nil, "low"), (w1, base, "high"), (w2, base, "urgent"), (w3, w2, "normal")]
            as [(Stamp, Stamp?, Value)]
        {
            try record.apply(
                .write(field: "priority", value: value, base: basis, stamp: stamp, history: true, personal: false),
                by: CaseBuilder.agent)
        }
        let conflicts = try #require(ServiceCase(record)?.conflicts["priority"])
        #expect(conflicts.count == 1)
        #expect(conflicts[0].writes.map(\.value) == ["high", "urgent"])
        #expect(conflicts[0].kept.value == "urgent")  // same millisecond: the larger replica id wins
        #expect(record.value("priority") == "normal")
    }

    @Test func contactPreferencesRefuseWhatTheyDoNotAllow() throws {
        var record = Record(key: RecordKey(type: .preferences, id: "cust-1"))
        let r = CaseBuilder.replica
        try record.apply(
            .add(
                field: PreferenceFields.allowedChannels, element: "sms", stamp: Stamp(hlc: HLC(millis: 1), replica: r)),
            by: CaseBuilder.customer)
        try record.apply(
            .add(
                field: PreferenceFields.allowedChannels, element: "email", stamp: Stamp(hlc: HLC(millis: 2), replica: r)
            ), by: CaseBuilder.customer)
        try record.apply(
            .write(
                field: PreferenceFields.quietHours, value: ["start": 1320, "end": 420], base: nil,
                stamp: Stamp(hlc: HLC(millis: 3), replica: r), history: false, personal: false),
            by: CaseBuilder.customer)
        try record.apply(
            .write(
                field: PreferenceFields.utcOffsetMinutes, value: 60, base: nil,
                stamp: Stamp(hlc: HLC(millis: 4), replica: r), history: false, personal: false),
            by: CaseBuilder.customer)
        let prefs = try #require(ContactPreferences(record))
        let noonUTC: Int64 = 12 * 3_600_000
        #expect(prefs.refusal(channel: .sms, purpose: "service", atMillis: noonUTC) == nil)
        #expect(prefs.refusal(channel: .phone, purpose: "service", atMillis: noonUTC) != nil)
        #expect(prefs.refusal(channel: .sms, purpose: "marketing", atMillis: noonUTC) != nil)
        // 21:30 UTC is 22:30 local, inside quiet hours 22:00-07:00 that wrap midnight.
        #expect(prefs.refusal(channel: .sms, purpose: "service", atMillis: 21 * 3_600_000 + 1_800_000) != nil)
        #expect(prefs.refusal(channel: .sms, purpose: "service", atMillis: 6 * 3_600_000 + 1_800_000) == nil)  // 07:30 local
    }

    @Test func redactionBlanksPersonalDataAndLaterWrites() throws {
        var builder = CaseBuilder()
        try builder.record.apply(
            .write(
                field: CaseFields.subject, value: "My address is ...", base: nil, stamp: builder.nextStamp(),
                history: false, personal: true), by: CaseBuilder.customer)
        try builder.message()
        try builder.status(.new, .open)
        try builder.record.apply(.redact(stamp: builder.nextStamp()), by: CaseBuilder.agent)
        try builder.message()
        let serviceCase = builder.serviceCase
        #expect(serviceCase.subject == nil)
        #expect(serviceCase.record.value(CaseFields.customer) == "cust-1")  // not personal
        #expect(serviceCase.timeline.count == 3)
        #expect(serviceCase.timeline.allSatisfy { $0.personal["body"] == nil || $0.personal["body"] == .null })
        #expect(serviceCase.status == .open)  // structural payload kept
    }

    @Test func stampChecksRefuseForeignStampsReuseAndDrift() throws {
        let replica = CaseBuilder.replica
        let key = RecordKey(type: .serviceCase, id: "c")
        func set(_ stamps: [Stamp]) -> ChangeSet {
            ChangeSet(
                id: ChangeSetID(replica: replica, seq: 1), author: CaseBuilder.agent, schemaVersion: 1,
                changes: stamps.map { RecordChange(key, .add(field: "tags", element: "x", stamp: $0)) })
        }
        let now: UInt64 = 1_000_000
        let ok = Stamp(hlc: HLC(millis: now + 60_000), replica: replica)
        #expect(throws: Never.self) { try set([ok]).validateStamps(serverMillis: now) }
        let foreign = Stamp(hlc: HLC(millis: now), replica: ReplicaID("00000000-0000-4000-8000-000000000009")!)
        #expect(throws: SyncError(.invalidStamp, "change 0 carries another replica's stamp")) {
            try set([foreign]).validateStamps(serverMillis: now)
        }
        do { try set([ok, ok]).validateStamps(serverMillis: now) } catch { #expect(error.code == .invalidStamp) }
        do {
            try set([Stamp(hlc: HLC(millis: now + 60_001), replica: replica)]).validateStamps(serverMillis: now)
            Issue.record("accepted a stamp beyond the drift bound")
        } catch {
            #expect(error.code == .clockSkew)
            #expect(error.isRetryable)
        }
    }
}

/// The proactive-contact rule, with the time under the test's control.
@Suite struct ProactiveContactTests {
    static let day: Int64 = 24 * 60 * 60 * 1000
    static let noon: Int64 = 20_000 * day + 12 * 60 * 60 * 1000

    @Test func answersWithinADayOnTheSameChannelAreNotProactive() {
        let inbound = LogEntry(
            id: "m", stamp: Stamp(hlc: HLC(millis: UInt64(Self.noon)), replica: ReplicaID.random()),
            kind: EntryKind.message, author: Author(principal: "anna", role: .customer),
            payload: ["channel": "sms", "direction": "inbound"])
        #expect(
            !ProactiveContact.isProactive(channel: .sms, atMillis: Self.noon + Self.day, customerMessages: [inbound]))
        #expect(
            ProactiveContact.isProactive(channel: .sms, atMillis: Self.noon + Self.day + 1, customerMessages: [inbound])
        )
        #expect(ProactiveContact.isProactive(channel: .email, atMillis: Self.noon + 1, customerMessages: [inbound]))
        #expect(ProactiveContact.isProactive(channel: .sms, atMillis: Self.noon - 1, customerMessages: [inbound]))
    }

    @Test func withoutPreferencesOnlyServiceContactIsAllowed() {
        #expect(ProactiveContact.refusal(nil, channel: .sms, purpose: "service", atMillis: Self.noon) == nil)
        #expect(
            ProactiveContact.refusal(nil, channel: .sms, purpose: "marketing", atMillis: Self.noon)?.rule == .consent)
    }

    @Test func quietHoursAreInTheCustomersLocalTime() {
        // 22:00 to 07:00 local, two hours east of UTC: 12:00 UTC is 14:00 local, 21:00 UTC is 23:00.
        let key = RecordKey(type: .preferences, id: "anna")
        let stamp = Stamp(hlc: HLC(millis: 1), replica: ReplicaID.random())
        var record = Record(key: key)
        try? record.apply(
            .write(
                field: PreferenceFields.quietHours, value: ["start": 1320, "end": 420], base: nil, stamp: stamp,
                history: false, personal: false), by: Author(principal: "anna", role: .customer))
        try? record.apply(
            .write(
                field: PreferenceFields.utcOffsetMinutes, value: 120, base: nil,
                stamp: Stamp(hlc: HLC(millis: 2), replica: stamp.replica), history: false, personal: false),
            by: Author(principal: "anna", role: .customer))
        let preferences = ContactPreferences(record)!
        #expect(preferences.check(channel: .sms, purpose: "service", atMillis: Self.noon) == nil)
        #expect(
            preferences.check(channel: .sms, purpose: "service", atMillis: Self.noon + 9 * 60 * 60 * 1000)?.rule
                == .quietHours)
    }
}
