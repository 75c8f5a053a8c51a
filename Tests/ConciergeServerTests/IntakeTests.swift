import AsyncHTTPClient
import ConciergeCore
import Foundation
import NIOCore
import Testing

@testable import ConciergeServer

/// Contacts from channel integrations land on the one case timeline through the real server:
/// matched by e-mail thread, case reference and contact point, stored once however often they
/// are delivered, refused with clear codes when they are bad.
@Suite(.timeLimit(.minutes(2))) struct IntakeTests {
    /// A server with the demo cast, provider `acme` reading numbers in Germany, and a mail-and-phone
    /// integration with one key.
    struct Setup {
        let server: TestServer
        let key: String

        static func start(_ engine: Engine) async throws -> Setup {
            let server = try await TestServer.start(engine: engine)
            try await server.seed()
            try await server.store.setDefaultRegion(of: "acme", to: "DE")
            _ = try await IntegrationAdmin.create(id: "gateway", provider: "acme", name: "Gateway", store: server.store)
            let (key, _) = try await IntegrationAdmin.addKey(
                to: "gateway", channels: ["email", "phone"], store: server.store)
            return Setup(server: server, key: key)
        }

        /// Hands a contact over. (A contact takes about ten database round trips: the deadline
        /// leaves room for a 2-core machine running every other test beside.)
        func contact(_ members: [String: Value], key: String? = nil) async throws -> BadInputTests.Answer {
            try await BadInputTests.send(
                server, .POST, "v1/integrations/contacts", body: CanonicalJSON.encode(.object(members)),
                token: key ?? self.key, timeout: .seconds(60))
        }

        /// The case as stored, whole.
        func serviceCase(_ answer: BadInputTests.Answer) async throws -> ServiceCase {
            let id = try #require(answer.body["case"]?.stringValue)
            let record = try #require(try await server.store.record(RecordKey(type: .serviceCase, id: RecordID(id))))
            return try #require(ServiceCase(record))
        }
    }

    static func email(
        _ id: String, from: String = "Anna Example <anna@example.com>", subject: String = "Router blinks red",
        inReplyTo: String? = nil, references: [String] = [], body: String = "It blinks."
    ) -> [String: Value] {
        var details: [String: Value] = ["messageId": .string(id)]
        if let inReplyTo { details["inReplyTo"] = .string(inReplyTo) }
        if !references.isEmpty { details["references"] = .array(references.map(Value.string)) }
        return [
            "channel": "email", "channelId": .string(id), "from": .string(from), "to": "support@acme.example",
            "subject": .string(subject), "body": .string(body), "email": .object(details),
        ]
    }

    @Test(arguments: Engine.allCases) func anEmailThreadLandsOnOneCaseAndARedeliveryIsOneEntry(engine: Engine)
        async throws
    {
        let setup = try await Setup.start(engine)
        let first = try await setup.contact(Self.email("<m1@mail.example>"))
        #expect(first.status == 201, "\(first.body)")
        #expect(first.body["newCase"] == .bool(true))
        #expect(first.body["newCustomer"] == .bool(true))
        #expect(first.body["matchedBy"] == "new")
        // Delivered again, twice: one entry, and the answer says so.
        for _ in 0..<2 {
            let again = try await setup.contact(Self.email("<m1@mail.example>"))
            #expect(again.status == 200)
            #expect(again.body["duplicate"] == .bool(true))
            #expect(again.body["case"] == first.body["case"])
        }
        // The reply, from the same address, threads by In-Reply-To; the next one by References.
        let reply = try await setup.contact(
            Self.email("<m2@mail.example>", subject: "Re: Router blinks red", inReplyTo: "<m1@mail.example>"))
        #expect(reply.status == 201)
        #expect(reply.body["case"] == first.body["case"])
        #expect(reply.body["matchedBy"] == "thread")
        #expect(reply.body["customer"] == first.body["customer"])
        let third = try await setup.contact(
            Self.email("<m3@mail.example>", subject: "Re: Re: Router", references: ["<m1@mail.example>"]))
        #expect(third.body["case"] == first.body["case"])
        let serviceCase = try await setup.serviceCase(first)
        #expect(
            serviceCase.timeline.map(\.id.rawValue) == [
                "email:<m1@mail.example>", "email:<m2@mail.example>", "email:<m3@mail.example>",
            ])
        #expect(serviceCase.subject == "Router blinks red")
        #expect(serviceCase.originChannel == .email)
        let entry = try #require(serviceCase.timeline.first)
        #expect(entry.author.role == .integration)
        #expect(entry.payload["email"]?["messageId"] == "<m1@mail.example>")
        #expect(serviceCase.identity(of: entry) == "matched on email anna@example.com, unverified")
        // The new customer has a profile with the sender's name and address.
        let customer = try #require(first.body["customer"]?.stringValue)
        let profile = try #require(
            try await setup.server.store.record(RecordKey(type: .profile, id: RecordID(customer))))
        #expect(profile.value(ProfileFields.displayName) == "Anna Example")
        #expect(profile.value(ProfileFields.email) == "anna@example.com")
        await setup.server.stop()
    }

    @Test(arguments: Engine.allCases) func deliveriesOfOneContactAtOnceStoreOneEntry(engine: Engine) async throws {
        let setup = try await Setup.start(engine)
        let answers = try await withThrowingTaskGroup(of: BadInputTests.Answer.self) { group in
            for _ in 0..<6 { group.addTask { try await setup.contact(Self.email("<same@mail.example>")) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        // Each answer says where it landed, or asks for a retry while another delivery finishes.
        #expect(answers.allSatisfy { [200, 201, 503].contains($0.status) }, "\(answers.map(\.body))")
        #expect(answers.filter { $0.status == 201 }.count == 1)
        let retried = try await setup.contact(Self.email("<same@mail.example>"))
        #expect(retried.status == 200)
        let serviceCase = try await setup.serviceCase(retried)
        #expect(serviceCase.timeline.map(\.id.rawValue) == ["email:<same@mail.example>"])
        for answer in answers where answer.status != 503 { #expect(answer.body["case"] == retried.body["case"]) }
        await setup.server.stop()
    }

    @Test(arguments: Engine.allCases) func aCallFromANationalNumberFindsTheCustomersOpenCase(engine: Engine)
        async throws
    {
        let setup = try await Setup.start(engine)
        let store = setup.server.store
        // Anna's number as staff stored it, and her one open case, opened in the app.
        try await store.addContactPoint(
            StoredContactPoint(
                provider: "acme", point: ContactPoint.phone("+49228622243", region: nil), customer: "anna",
                verifiedBy: "staff:sue", verifiedAt: 1, createdAt: 1))
        let anna = try await setup.server.device("anna")
        var opened: RecordID?
        try anna.edit { editor in
            opened = try editor.openCase(NewCaseIntent(provider: "acme", subject: "No signal", message: "Help")).id
        }
        try await anna.sync()
        let call = try await setup.contact([
            "channel": "phone", "channelId": "call-1", "from": "0228 622243", "body": "Called about the signal",
            "call": ["durationSeconds": 240, "outcome": "answered"],
        ])
        #expect(call.status == 201, "\(call.body)")
        #expect(call.body["customer"] == "anna")
        #expect(call.body["case"] == .string(try #require(opened).rawValue))
        #expect(call.body["matchedBy"] == "contactPoint")
        let serviceCase = try await setup.serviceCase(call)
        // Her app message and the call record, on one timeline, each saying what its identity rests
        // on, and between them the switch from the app to the phone.
        #expect(serviceCase.timeline.map(\.kind) == [EntryKind.message, EntryKind.channelSwitch, EntryKind.message])
        #expect(
            serviceCase.timeline.map { serviceCase.identity(of: $0) } == [
                "verified via app", nil, "verified via phone",
            ])
        #expect(serviceCase.lastChannel == .phone)
        #expect(serviceCase.timeline.last?.payload["call"]?["durationSeconds"] == .int(240))
        // An unknown number: a new, unverified customer and a new case.
        let stranger = try await setup.contact(["channel": "phone", "channelId": "call-2", "from": "+44 20 7946 0958"])
        #expect(stranger.status == 201)
        #expect(stranger.body["newCustomer"] == .bool(true))
        #expect(stranger.body["newCase"] == .bool(true))
        let strangerID = PrincipalID(try #require(stranger.body["customer"]?.stringValue))
        #expect(try await store.principal(strangerID)?.role == .customer)
        let points = try await store.contactPoints(of: strangerID)
        #expect(points.map(\.point) == [ContactPoint(kind: .phone, value: "+442079460958")])
        #expect(points.allSatisfy { !$0.verified })
        // A number that cannot be read is kept as written, unparsed, and matches only itself.
        let odd = try await setup.contact(["channel": "phone", "channelId": "call-3", "from": "ext. 12"])
        #expect(odd.status == 201)
        let again = try await setup.contact(["channel": "phone", "channelId": "call-4", "from": "ext. 12"])
        #expect(again.body["customer"] == odd.body["customer"])
        let oddPoints = try await store.contactPoints(of: PrincipalID(try #require(odd.body["customer"]?.stringValue)))
        #expect(oddPoints.map(\.point) == [ContactPoint(kind: .phone, value: "ext. 12", parsed: false)])
        await setup.server.stop()
    }

    /// A caller who got a new customer record on their first call is merged by staff into the
    /// customer they are; their next calls land on the survivor's case, and a reference to their
    /// first case (merged too) lands on the case it was merged into.
    @Test func contactsFromAMergedCustomerLandOnTheSurvivor() async throws {
        let setup = try await Setup.start(.sqlite)
        let anna = try await setup.server.device("anna")
        let ben = try await setup.server.device("ben")
        var annas: RecordID?
        try anna.edit { editor in
            annas = try editor.openCase(NewCaseIntent(provider: "acme", subject: "No signal", message: "Help")).id
        }
        try await anna.sync()
        let first = try await setup.contact(["channel": "phone", "channelId": "call-1", "from": "0171 5550123"])
        #expect(first.body["newCustomer"] == .bool(true))
        let stranger = PrincipalID(try #require(first.body["customer"]?.stringValue))
        let strangersCase = try #require(first.body["case"]?.stringValue)

        try await ben.sync()
        try ben.edit { editor in try editor.mergeCustomer(stranger, into: "anna", reason: "same person, new phone") }
        #expect(try await ben.sync().accepted == 1)
        let second = try await setup.contact(["channel": "phone", "channelId": "call-2", "from": "+491715550123"])
        #expect(second.body["customer"] == "anna", "\(second.body)")
        #expect(second.body["case"] == .string(try #require(annas).rawValue))
        // The number is the merged record's, unverified: the entry says so.
        let serviceCase = try await setup.serviceCase(second)
        #expect(serviceCase.identity(of: try #require(serviceCase.timeline.last))?.hasSuffix("unverified") == true)

        let merged = try #require(
            try ben.replica.visibleRecord(RecordKey(type: .serviceCase, id: RecordID(strangersCase))))
        let annasID = try #require(annas)
        let survivor = try #require(try ben.replica.visibleRecord(RecordKey(type: .serviceCase, id: annasID)))
        try ben.edit { editor in try editor.merge(ServiceCase(merged)!, into: ServiceCase(survivor)!, reason: nil) }
        #expect(try await ben.sync().accepted == 1)
        let third = try await setup.contact([
            "channel": "phone", "channelId": "call-3", "from": "+491715550123", "caseReference": .string(strangersCase),
        ])
        #expect(third.body["case"] == .string(try #require(annas).rawValue), "\(third.body)")
        #expect(third.body["matchedBy"] == "reference")
        await setup.server.stop()
    }

    @Test func aReferenceToAnotherCustomersCaseNeverAttachesTheContactThere() async throws {
        let setup = try await Setup.start(.sqlite)
        let anna = try await setup.contact(Self.email("<a1@mail.example>", from: "anna@example.com"))
        let annasCase = try #require(anna.body["case"]?.stringValue)
        // Carl (another address) names Anna's case in the subject, and replies into her thread.
        let carl = try await setup.contact(
            Self.email("<c1@mail.example>", from: "carl@example.com", subject: "Re: [#\(annasCase)] hello"))
        #expect(carl.body["case"] != anna.body["case"])
        #expect(carl.body["customer"] != anna.body["customer"])
        let threaded = try await setup.contact(
            Self.email("<c2@mail.example>", from: "carl@example.com", inReplyTo: "<a1@mail.example>"))
        #expect(threaded.body["case"] != anna.body["case"])
        // Anna naming her own case lands there (a second open case would not steal it).
        let own = try await setup.contact(
            Self.email("<a2@mail.example>", from: "anna@example.com", subject: "[#\(annasCase)] update"))
        #expect(own.body["case"] == anna.body["case"])
        #expect(own.body["matchedBy"] == "reference")
        let serviceCase = try await setup.serviceCase(anna)
        #expect(serviceCase.timeline.count == 2)
        await setup.server.stop()
    }

    @Test func badContactsAndKeysAreRefusedWithClearCodes() async throws {
        let setup = try await Setup.start(.sqlite)
        let call: [String: Value] = ["channel": "phone", "channelId": "c-1", "from": "+4922812345"]
        var answer = try await setup.contact(call, key: "ck_0123456789abcdef_wrong")
        #expect(answer.status == 401)
        #expect(answer.code == "unauthorized")
        answer = try await setup.contact(call, key: "not-a-key")
        #expect(answer.status == 401)
        // A device's access token is no API key.
        let anna = try await setup.server.device("anna")
        answer = try await setup.contact(call, key: anna.transport.currentSession.accessToken)
        #expect(answer.status == 401)
        answer = try await setup.contact(["channel": "sms", "channelId": "s-1", "from": "+4922812345"])
        #expect(answer.status == 403)
        #expect(answer.code == "outOfScope")
        answer = try await setup.contact(["channel": "phone", "from": "+4922812345"])
        #expect(answer.status == 400)
        #expect(answer.code == "malformedRequest")
        answer = try await setup.contact(["channel": "pigeon", "channelId": "p-1", "from": "+4922812345"])
        #expect(answer.code == "malformedRequest")
        answer = try await setup.contact(call.merging(["priority": "high"]) { $1 })
        #expect(answer.code == "unknownField")
        answer = try await setup.contact(
            call.merging(["body": .string(String(repeating: "x", count: IntakeContact.bodyLimit + 1))]) { $1 })
        #expect(answer.status == 413)
        #expect(answer.code == "payloadTooLarge")
        answer = try await setup.contact(["channel": "email", "channelId": "e-1", "from": "not an address"])
        #expect(answer.code == "malformedRequest")
        // Nothing of the refused contacts was stored.
        #expect(try await setup.server.store.takenIn(provider: "acme", channel: .phone, channelID: "c-1") == nil)
        await setup.server.stop()
    }

    @Test func aRotatedKeyKeepsTheIntegrationWorking() async throws {
        let setup = try await Setup.start(.sqlite)
        let store = setup.server.store
        let (second, _) = try await IntegrationAdmin.addKey(to: "gateway", channels: ["phone"], store: store)
        let firstID = try #require(IntegrationKeys.parse(setup.key)?.id)
        try await store.revokeIntegrationKey(id: firstID)
        var answer = try await setup.contact(["channel": "phone", "channelId": "r-1", "from": "+4922899999"])
        #expect(answer.status == 401)
        answer = try await setup.contact(["channel": "phone", "channelId": "r-1", "from": "+4922899999"], key: second)
        #expect(answer.status == 201)
        #expect(try await store.integrationKeys(of: "gateway").map { $0.revokedAt != nil } == [true, false])
        await setup.server.stop()
    }
}

@Suite struct ContactPointTests {
    /// A customer adds their own number in the CLI (verified by themselves, signed in on an
    /// enrolled device), and a call from it matches them as verified; staff see and add a
    /// customer's points; nobody takes another customer's point or reads theirs.
    @Test func customersAndStaffManageContactPointsAndCallsMatchThem() async throws {
        let setup = try await IntakeTests.Setup.start(.sqlite)
        let anna = try await CLITests.enrolled("anna", on: setup.server)
        let ben = try await CLITests.enrolled("ben", on: setup.server)
        let carl = try await CLITests.enrolled("carl", on: setup.server)
        let added = try await anna.run("contacts", "add", "phone", "0228 622243")
        #expect(added.status == 0 && added.output.contains("+49228622243"), "\(added.output)")
        #expect(added.output.contains("by customer"))
        let call = try await setup.contact(["channel": "phone", "channelId": "call-1", "from": "+49 228 622243"])
        #expect(call.body["customer"] == "anna" && call.body["matchedBy"] == "contactPoint", "\(call.body)")
        let serviceCase = try await setup.serviceCase(call)
        #expect(serviceCase.identity(of: try #require(serviceCase.timeline.last)) == "verified via phone")

        #expect(try await ben.run("contacts", "add", "email", "Anna@Example.com", "--customer", "anna").status == 0)
        let listed = try #require(try await ben.run("contacts", "list", "--customer", "anna", "--json").json)
        #expect(
            listed["contactPoints"]?.arrayValue?.compactMap { $0["value"]?.stringValue }.sorted() == [
                "+49228622243", "anna@example.com",
            ])
        let taken = try await carl.run("contacts", "add", "phone", "+49228622243")
        #expect(taken.status != 0 && taken.output.contains("another customer"), "\(taken.output)")
        let theirs = try await anna.run("contacts", "list", "--customer", "carl")
        #expect(theirs.status != 0 && theirs.output.contains("their own"), "\(theirs.output)")
        let unnamed = try await ben.run("contacts", "list")
        #expect(unnamed.status != 0 && unnamed.output.contains("name the customer"), "\(unnamed.output)")

        let removed = try await anna.run("contacts", "remove", "phone", "0228 622243")
        #expect(removed.status == 0 && !removed.output.contains("+49228622243"), "\(removed.output)")
        #expect(try await anna.run("contacts", "remove", "phone", "0228 622243").status != 0)
        await setup.server.stop()
    }

    /// SQLite finds a customer's cases by the first tag of their stored (sorted) audience: the
    /// customer's tag must sort before every other kind of tag a case or a profile can carry.
    @Test func aCustomersTagIsTheFirstOfEveryAudience() {
        var record = Record(key: RecordKey(type: .serviceCase, id: "c1"))
        let author = Author(principal: "ben", role: .agent)
        let replica = ReplicaID(high: 1, low: 1)
        for (index, (field, value)) in [
            (CaseFields.provider, "acme"), (CaseFields.customer, "zz-last-customer"), (CaseFields.assignee, "aaron"),
            (CaseFields.requiredSkill, "a-skill"), (CaseFields.queue, "a-queue"),
        ].enumerated() {
            let stamp = Stamp(hlc: HLC(millis: 1, counter: UInt16(index)), replica: replica)
            try? record.apply(
                .write(field: field, value: .string(value), base: nil, stamp: stamp, history: false, personal: false),
                by: author)
        }
        let tags = Audience.of(record).sorted()
        #expect(tags.count > 3 && tags.first == Audience.customer("zz-last-customer"), "\(tags)")
        let profile = Record(key: RecordKey(type: .profile, id: "zz-last-customer"))
        let owner = Principal(id: "zz-last-customer", provider: "acme", role: .customer, displayName: "Z")
        #expect(Audience.of(profile, owner: owner).sorted().first == Audience.customer("zz-last-customer"))
    }

    @Test func phoneNumbersAreReadTheWayPeopleWriteThem() {
        for written in ["0228 622243", "0228/622243", "+49 (228) 62 22 43", "0049228622243", "+49-228-622243"] {
            #expect(PhoneNumber.e164(written, region: "DE") == "+49228622243", "\(written)")
        }
        #expect(PhoneNumber.e164("(202) 555-0143", region: "US") == "+12025550143")
        #expect(PhoneNumber.e164("06 12 34 56 78", region: "FR") == "+33612345678")
        #expect(PhoneNumber.e164("0228 622243", region: nil) == nil)
        #expect(PhoneNumber.e164("call me", region: "DE") == nil)
        #expect(PhoneNumber.e164("+49 12", region: "DE") == nil)
        #expect(
            ContactPoint.phone("ext. 12", region: "DE") == ContactPoint(kind: .phone, value: "ext. 12", parsed: false))
    }

    @Test func addressesAndHandlesAreComparedWithoutCase() {
        #expect(ContactPoint.email("  Anna Example <Anna@Example.COM> ")?.value == "anna@example.com")
        #expect(ContactPoint.email("anna@example.com")?.value == "anna@example.com")
        #expect(ContactPoint.email("anna at example") == nil)
        #expect(ContactPoint.email("a@b@c") == nil)
        #expect(ContactPoint.social(network: "Twitter", handle: "@Anna_S")?.value == "twitter:anna_s")
    }
}
