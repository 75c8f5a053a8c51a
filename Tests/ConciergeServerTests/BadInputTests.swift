import AsyncHTTPClient
import ConciergeClient
import ConciergeCore
import ConciergeServer
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// Every kind of bad input gets a JSON error with a stable code, and a refused change leaves no
/// trace.
@Suite struct BadInputTests {
    struct Answer {
        var status: Int
        var body: Value
        var code: String? { body["error"]?["code"]?.stringValue }
    }

    static func send(
        _ server: TestServer, _ method: HTTPMethod, _ path: String, body: [UInt8]? = nil,
        contentType: String? = "application/json", token: String? = nil, timeout: TimeAmount = .seconds(10)
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: server.url.absoluteString + path)
        request.method = method
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 1 << 24)
        return Answer(
            status: Int(response.status.code), body: (try? CanonicalJSON.decode(bytes.readableBytesView)) ?? .null)
    }

    static func push(_ server: TestServer, _ sets: [ChangeSet], token: String) async throws -> Answer {
        try await send(
            server, .POST, "v1/push", body: CanonicalJSON.encode(PushRequest(changeSets: sets).value), token: token)
    }

    /// A set from `device`, stamped now unless told otherwise.
    static func set(
        _ device: TestDevice, seq: UInt64, _ changes: [(RecordKey, (Stamp) -> Change)], millis: UInt64? = nil
    ) -> ChangeSet {
        let session = device.transport.currentSession
        let base = millis ?? UInt64(Date().timeIntervalSince1970 * 1000)
        return ChangeSet(
            id: ChangeSetID(replica: session.replica, seq: seq), author: session.author, schemaVersion: 1,
            changes: changes.enumerated().map { index, change in
                RecordChange(
                    change.0, change.1(Stamp(hlc: HLC(millis: base, counter: UInt16(index)), replica: session.replica)))
            })
    }

    /// The pull's documented edges (docs/protocol.md): no cursor is a reset from the start; a limit
    /// must be a positive number.
    @Test func aPullWithoutACursorIsAnInitialResetAndItsLimitIsChecked() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        let anna = try await server.device("anna")
        let token = anna.transport.currentSession.accessToken
        // An empty log: an empty page at position 0.
        let empty = try await Self.send(server, .GET, "v1/pull", body: nil, contentType: nil, token: token)
        #expect(empty.status == 200 && empty.body["kind"] == "page" && empty.body["events"] == [])
        #expect(empty.body["cursor"]?.stringValue?.hasSuffix(":0") == true)
        _ = try SyncIntegrationTests.newCase(anna, subject: "Hello")
        try await anna.sync()
        // Something in the log: a reset from the start.
        let first = try await Self.send(server, .GET, "v1/pull", body: nil, contentType: nil, token: token)
        #expect(first.body["kind"] == "reset" && first.body["reason"] == "initial")
        #expect(first.body["records"]?.arrayValue?.count == 1)
        for limit in ["0", "-3", "many"] {
            let answer = try await Self.send(
                server, .GET, "v1/pull?limit=\(limit)", body: nil, contentType: nil, token: token)
            #expect(answer.status == 400 && answer.code == "malformedRequest", "\(limit): \(answer.body)")
        }
        let capped = try await Self.send(server, .GET, "v1/pull?limit=50000", body: nil, contentType: nil, token: token)
        #expect(capped.status == 200)
        let garbage = try await Self.send(
            server, .GET, "v1/pull?cursor=nonsense", body: nil, contentType: nil, token: token)
        #expect(garbage.status == 400 && garbage.code == "invalidCursor")
        await server.stop()
    }

    /// The sequence rule (docs/encoding.md): a replica's set numbers may start at 0, skip, and go
    /// back into a gap; one id names one content.
    @Test func setNumbersMayStartAtZeroSkipAndGoBack() async throws {
        let server = try await TestServer.start()
        try await server.seed()
        let anna = try await server.device("anna")
        let token = anna.transport.currentSession.accessToken
        var outcomes: [Value] = []
        for seq in [0, 7, 3] as [UInt64] {
            let key = RecordKey(type: .serviceCase, id: RecordID(UUID().uuidString.lowercased()))
            let set = Self.set(
                anna, seq: seq,
                [
                    (
                        key,
                        {
                            .write(
                                field: CaseFields.provider, value: "acme", base: nil, stamp: $0, history: false,
                                personal: false)
                        }
                    ),
                    (
                        key,
                        {
                            .write(
                                field: CaseFields.customer, value: "anna", base: nil, stamp: $0, history: false,
                                personal: false)
                        }
                    ),
                ], millis: UInt64(Date().timeIntervalSince1970 * 1000) + seq)
            outcomes.append(try #require(try await Self.push(server, [set], token: token).body["outcomes"]?[0]))
        }
        #expect(outcomes.map { $0["status"] } == ["accepted", "accepted", "accepted"], "\(outcomes)")
        // A new case names its provider and its customer: the refusal says which is missing.
        let ben = try await server.device("ben")
        let key = RecordKey(type: .serviceCase, id: RecordID(UUID().uuidString.lowercased()))
        let unnamed = Self.set(
            ben, seq: 1,
            [
                (
                    key,
                    {
                        .write(
                            field: CaseFields.provider, value: "acme", base: nil, stamp: $0, history: false,
                            personal: false)
                    }
                )
            ])
        let refused = try #require(
            try await Self.push(server, [unnamed], token: ben.transport.currentSession.accessToken).body["outcomes"]?[0]
        )
        #expect(refused["error"]?["code"] == "malformed")
        #expect(refused["error"]?["message"]?.stringValue?.hasSuffix("missing: customer") == true, "\(refused)")
        await server.stop()
    }

    /// A customer appending huge messages grew the database to a gigabyte: values and entries over
    /// the limits are refused whole (`tooLarge`, naming the field), and nothing of the set is kept;
    /// the core's editor refuses them before they are saved.
    @Test(arguments: Engine.allCases) func valuesAndEntriesOverTheLimitsAreRefusedWhole(engine: Engine) async throws {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let anna = try await server.device("anna")
        let token = anna.transport.currentSession.accessToken
        let key = RecordKey(type: .serviceCase, id: RecordID(UUID().uuidString.lowercased()))
        func opening(_ subject: String) -> [(RecordKey, (Stamp) -> Change)] {
            [
                (
                    key,
                    {
                        .write(
                            field: CaseFields.provider, value: "acme", base: nil, stamp: $0, history: false,
                            personal: false)
                    }
                ),
                (
                    key,
                    {
                        .write(
                            field: CaseFields.customer, value: "anna", base: nil, stamp: $0, history: false,
                            personal: false)
                    }
                ),
                (
                    key,
                    {
                        .write(
                            field: CaseFields.subject, value: .string(subject), base: nil, stamp: $0, history: false,
                            personal: true)
                    }
                ),
            ]
        }
        func message(_ id: String, bytes: Int) -> (RecordKey, (Stamp) -> Change) {
            (
                key,
                { stamp in
                    .append(
                        field: CaseFields.timeline,
                        entry: NewEntry(
                            id: EntryID(id), stamp: stamp, kind: EntryKind.message,
                            payload: ["channel": "app", "direction": "inbound"],
                            personal: ["body": .string(String(repeating: "x", count: bytes))]))
                }
            )
        }
        let before = try await server.store.stats()
        var answer = try await Self.push(
            server, [Self.set(anna, seq: 1, opening(String(repeating: "s", count: 20_000)))], token: token)
        #expect(answer.body["outcomes"]?[0]?["error"]?["code"] == "tooLarge", "\(answer.body)")
        #expect(answer.body["outcomes"]?[0]?["error"]?["message"]?.stringValue?.contains("subject") == true)
        answer = try await Self.push(
            server, [Self.set(anna, seq: 2, opening("Router") + [message("m1", bytes: 70_000)])], token: token)
        #expect(answer.body["outcomes"]?[0]?["error"]?["code"] == "tooLarge", "\(answer.body)")
        let after = try await server.store.stats()
        for table in ["record", "record_field", "record_entry", "change_log"] { #expect(after[table] == before[table]) }
        // Just under the limits: taken.
        answer = try await Self.push(
            server, [Self.set(anna, seq: 3, opening("Router") + [message("m2", bytes: 60_000)])], token: token)
        #expect(answer.body["outcomes"]?[0]?["status"] == "accepted", "\(answer.body)")
        // The editor refuses what the server would.
        #expect(throws: SyncError.self) {
            try anna.edit { editor in
                try editor.write(.string(String(repeating: "s", count: 20_000)), to: CaseFields.subject, of: key)
            }
        }
        await server.stop()
    }

    @Test(arguments: Engine.allCases) func malformedRequestsGetClearErrors(engine: Engine) async throws {
        let server = try await TestServer.start(engine: engine) {
            $0.maxBodyBytes = 4_000; $0.maxBatchSets = 3
        }
        try await server.seed()
        let anna = try await server.device("anna")
        let token = anna.transport.currentSession.accessToken
        var answer = try await Self.send(server, .POST, "v1/push", body: Array("{\"changeSets\": [".utf8), token: token)
        #expect(answer.status == 400 && answer.code == "malformedRequest")
        answer = try await Self.send(
            server, .POST, "v1/push", body: Array("{}".utf8), contentType: "text/plain", token: token)
        #expect(answer.status == 415 && answer.code == "unsupportedMediaType")
        answer = try await Self.send(server, .POST, "v1/push", body: Array(repeating: 0x20, count: 5_000), token: token)
        #expect(answer.status == 413 && answer.code == "payloadTooLarge")
        let key = RecordKey(type: .serviceCase, id: "c1")
        let sets = (1...4).map { seq in
            Self.set(anna, seq: UInt64(seq), [(key, { .add(field: CaseFields.tags, element: "x", stamp: $0) })])
        }
        answer = try await Self.push(server, sets, token: token)
        #expect(answer.status == 400 && answer.code == "batchTooLarge")
        answer = try await Self.send(
            server, .POST, "v1/push", body: Array(#"{"changeSets":[{"replica":"nope"}]}"#.utf8), token: token)
        #expect(answer.status == 400 && answer.code == "malformedRequest")
        answer = try await Self.send(server, .POST, "v1/push", body: Array(#"{"changeSets":[1.5]}"#.utf8), token: token)
        #expect(answer.status == 400 && answer.code == "malformedRequest")
        // A float anywhere in a body fails the whole request (docs/encoding.md), saying where:
        // no set of it is applied, none is stored.
        var withFloat = Self.set(anna, seq: 9, [(key, { .add(field: CaseFields.tags, element: "x", stamp: $0) })]).value
        if case .object(var members) = withFloat { members["schemaVersion"] = .int(1); withFloat = .object(members) }
        let text = CanonicalJSON.string(.object(["changeSets": .array([withFloat])]))
            .replacingOccurrences(of: #""schemaVersion":1"#, with: #""schemaVersion":1.0"#)
        answer = try await Self.send(server, .POST, "v1/push", body: Array(text.utf8), token: token)
        #expect(answer.status == 400 && answer.code == "malformedRequest", "\(answer.body)")
        #expect(
            answer.body["error"]?["message"]?.stringValue?.hasPrefix("floating-point numbers are not allowed at byte")
                == true, "\(answer.body)")
        answer = try await Self.send(server, .GET, "v1/nothing-here", token: token)
        #expect(answer.status == 404 && answer.code == "notFound")
        // The same in the compact binary form.
        let binary = "application/vnd.concierge.binary"
        answer = try await Self.send(
            server, .POST, "v1/push", body: CompactBinary.encode(sets), contentType: binary, token: token)
        #expect(answer.status == 400 && answer.code == "batchTooLarge")
        let one = CompactBinary.encode(Array(sets.prefix(1)))
        for body in [
            Array(one.dropLast()), Array("{\"changeSets\":[]}".utf8), one + [0], [UInt8](repeating: 0xFF, count: 64),
        ] {
            answer = try await Self.send(server, .POST, "v1/push", body: body, contentType: binary, token: token)
            #expect(answer.status == 400 && answer.code == "malformedRequest")
        }
        answer = try await Self.send(
            server, .POST, "v1/push", body: Array(repeating: 0x20, count: 5_000), contentType: binary, token: token)
        #expect(answer.status == 413 && answer.code == "payloadTooLarge")
        #expect(try await server.store.stats()["change_log"] == 0)
        answer = try await Self.send(server, .POST, "v1/push", body: one, contentType: binary, token: token)
        // A well-formed binary batch is answered set by set (this one is out of Anna's scope).
        #expect(answer.status == 200 && answer.body["outcomes"]?.arrayValue?.count == 1)
        await server.stop()
    }

    @Test(arguments: Engine.allCases) func tokensThatAreMissingExpiredForgedOrFromAnotherKeyAreRefused(engine: Engine)
        async throws
    {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let anna = try await server.device("anna")
        let session = anna.transport.currentSession
        let principal = try #require(try await server.store.principal("anna"))
        var answer = try await Self.send(server, .GET, "v1/pull")
        #expect(answer.status == 401 && answer.code == "unauthorized")
        let expired = try await server.parts.tokens.accessToken(
            for: principal, device: session.replica, now: Date(timeIntervalSinceNow: -3600))
        answer = try await Self.send(server, .GET, "v1/pull", token: expired)
        #expect(answer.status == 401 && answer.code == "unauthorized")
        var forged = Array(session.accessToken)
        forged[forged.count - 5] = forged[forged.count - 5] == "A" ? "B" : "A"
        answer = try await Self.send(server, .GET, "v1/pull", token: String(forged))
        #expect(answer.status == 401)
        let otherFolder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "other-key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: otherFolder, withIntermediateDirectories: true)
        let otherKey = try await TokenService.load(folder: otherFolder)
        answer = try await Self.send(
            server, .GET, "v1/pull", token: try await otherKey.accessToken(for: principal, device: session.replica))
        #expect(answer.status == 401 && answer.code == "unauthorized")
        answer = try await Self.send(server, .GET, "v1/pull", token: "not.a.jwt")
        #expect(answer.status == 401)
        // The live route authenticates before any upgrade, with the same answers.
        answer = try await Self.send(server, .GET, "v1/live")
        #expect(answer.status == 401 && answer.code == "unauthorized")
        answer = try await Self.send(server, .GET, "v1/live", token: String(forged))
        #expect(answer.status == 401 && answer.code == "unauthorized")
        var live = LiveConnection.notices(anna.transport).makeAsyncIterator()
        #expect(try await live.next() == .hello(epoch: server.store.epoch))
        // A revoked device: 401 deviceRevoked, even with a token that has not expired yet.
        try await server.store.revokeDevice(session.replica)
        answer = try await Self.send(server, .GET, "v1/pull", token: session.accessToken)
        #expect(answer.status == 401 && answer.code == "deviceRevoked")
        answer = try await Self.send(server, .GET, "v1/live", token: session.accessToken)
        #expect(answer.status == 401 && answer.code == "deviceRevoked")
        var refused = LiveConnection.notices(anna.transport).makeAsyncIterator()
        await #expect(throws: SyncError.self) { _ = try await refused.next() }
        await server.stop()
    }

    @Test(arguments: Engine.allCases) func refusedChangesLeaveNoTrace(engine: Engine) async throws {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let anna = try await server.device("anna")
        let carl = try await server.device("carl")
        let carlsCase = try SyncIntegrationTests.newCase(carl, subject: "Mine")
        try await carl.sync()
        let annasCase = try SyncIntegrationTests.newCase(anna, subject: "Hers")
        try await anna.sync()
        let token = anna.transport.currentSession.accessToken
        let before = try await server.store.stats()
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        let refusals: [(ChangeSet, String)] = [
            (
                Self.set(anna, seq: 101, [(RecordKey(type: "spaceship", id: "x"), { .delete(stamp: $0) })]),
                "unknownField"
            ),
            (
                Self.set(
                    anna, seq: 102,
                    [
                        (
                            annasCase,
                            { .write(field: "x-new", value: 1, base: nil, stamp: $0, history: false, personal: false) }
                        )
                    ]), "unknownField"
            ),
            (
                Self.set(
                    anna, seq: 103, [(annasCase, { .add(field: CaseFields.tags, element: "x", stamp: $0) })],
                    millis: now + 120_000), "clockSkew"
            ),
            (
                Self.set(
                    anna, seq: 104,
                    [
                        (
                            carlsCase,
                            {
                                .append(
                                    field: CaseFields.timeline,
                                    entry: NewEntry(
                                        id: "e", stamp: $0, kind: EntryKind.message, payload: ["direction": "inbound"]))
                            }
                        )
                    ]), "outOfScope"
            ),
            (
                Self.set(
                    anna, seq: 105,
                    [
                        (
                            annasCase,
                            {
                                .write(
                                    field: CaseFields.priority, value: "high", base: nil, stamp: $0, history: true,
                                    personal: false)
                            }
                        )
                    ]), "forbiddenField"
            ),
            (
                Self.set(
                    anna, seq: 106,
                    [
                        (
                            annasCase,
                            {
                                .append(
                                    field: CaseFields.timeline,
                                    entry: NewEntry(
                                        id: "s", stamp: $0, kind: EntryKind.statusChange,
                                        payload: ["from": "new", "to": "open"]))
                            }
                        )
                    ]), "invalidTransition"
            ),
            (
                Self.set(
                    anna, seq: 107,
                    [
                        (
                            annasCase,
                            {
                                .append(
                                    field: CaseFields.timeline,
                                    entry: NewEntry(id: "n", stamp: $0, kind: EntryKind.note))
                            }
                        )
                    ]), "forbiddenField"
            ),
            (
                Self.set(
                    anna, seq: 108,
                    [
                        (
                            annasCase,
                            {
                                .write(
                                    field: CaseFields.customer, value: "carl", base: nil, stamp: $0, history: false,
                                    personal: false)
                            }
                        )
                    ]), "forbiddenField"
            ),
        ]
        for (set, code) in refusals {
            let answer = try await Self.push(server, [set], token: token)
            #expect(answer.status == 200)
            #expect(
                answer.body["outcomes"]?.arrayValue?.first?["error"]?["code"]?.stringValue == code, "set \(set.id.seq)")
        }
        // A set whose stamps carry another replica id, and a set for another device's id.
        var foreign = Self.set(anna, seq: 109, [(annasCase, { .add(field: CaseFields.tags, element: "x", stamp: $0) })])
        foreign.changes[0] = RecordChange(
            annasCase,
            .add(field: CaseFields.tags, element: "x", stamp: Stamp(hlc: HLC(millis: now), replica: .random())))
        #expect(
            try await Self.push(server, [foreign], token: token).body["outcomes"]?[0]?["error"]?["code"]
                == "invalidStamp")
        var impostor = Self.set(
            carl, seq: 999, [(annasCase, { .add(field: CaseFields.tags, element: "x", stamp: $0) })])
        impostor.author = anna.transport.currentSession.author
        #expect(
            try await Self.push(server, [impostor], token: token).body["outcomes"]?[0]?["error"]?["code"]
                == "outOfScope")
        let after = try await server.store.stats()
        for table in ["record", "record_field", "record_entry", "change_log", "scope_event", "accepted_outcome"] {
            #expect(after[table] == before[table], "\(table) changed")
        }
        // Final rejections are stored (7 of the 8 above, plus the foreign stamps); clockSkew and
        // the impostor's set are not.
        #expect(after["rejected_outcome"] == (before["rejected_outcome"] ?? 0) + 8)
        await server.stop()
    }

    @Test(arguments: Engine.allCases) func replaysReturnTheStoredOutcomeAndReusedSeqsAreRefused(engine: Engine)
        async throws
    {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let anna = try await server.device("anna")
        let key = try SyncIntegrationTests.newCase(anna, subject: "Replay")
        try await anna.sync()
        let token = anna.transport.currentSession.accessToken
        let good = Self.set(
            anna, seq: 50,
            [
                (
                    key,
                    {
                        .write(
                            field: CaseFields.rating, value: 5, base: nil, stamp: $0, history: false, personal: false)
                    }
                )
            ])
        let first = try await Self.push(server, [good], token: token)
        #expect(first.body["outcomes"]?[0]?["status"] == "accepted")
        let replay = try await Self.push(server, [good], token: token)
        #expect(replay.body["outcomes"]?[0]?["status"] == "duplicate")
        #expect(replay.body["outcomes"]?[0]?["position"] == first.body["outcomes"]?[0]?["position"])
        let bad = Self.set(
            anna, seq: 51,
            [
                (
                    key,
                    {
                        .write(
                            field: CaseFields.priority, value: 1, base: nil, stamp: $0, history: true, personal: false)
                    }
                )
            ])
        let refused = try await Self.push(server, [bad], token: token)
        #expect(try await Self.push(server, [bad], token: token).body["outcomes"] == refused.body["outcomes"])
        let other = Self.set(
            anna, seq: 50,
            [
                (
                    key,
                    {
                        .write(
                            field: CaseFields.rating, value: 1, base: nil, stamp: $0, history: false, personal: false)
                    }
                )
            ], millis: UInt64(Date().timeIntervalSince1970 * 1000) + 5)
        #expect(
            try await Self.push(server, [other], token: token).body["outcomes"]?[0]?["error"]?["code"] == "seqReused")
        // The form does not matter: the content hash is taken over the canonical JSON.
        let binary = "application/vnd.concierge.binary"
        for (set, expected) in [(good, "duplicate"), (other, "rejected")] {
            let answer = try await Self.send(
                server, .POST, "v1/push", body: CompactBinary.encode([set]), contentType: binary, token: token)
            #expect(answer.body["outcomes"]?[0]?["status"] == .string(expected))
        }
        #expect(try await server.store.stats()["change_log"] == 2)
        await server.stop()
    }

    @Test(arguments: Engine.allCases) func cursorsFromTheFutureAnotherEpochOrGarbage(engine: Engine) async throws {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let anna = try await server.device("anna")
        _ = try SyncIntegrationTests.newCase(anna, subject: "Cursor")
        try await anna.sync()
        let token = anna.transport.currentSession.accessToken
        let epoch = server.store.epoch
        var answer = try await Self.send(server, .GET, "v1/pull?cursor=\(epoch):99", token: token)
        #expect(answer.status == 400 && answer.code == "invalidCursor")
        answer = try await Self.send(server, .GET, "v1/pull?cursor=garbage", token: token)
        #expect(answer.status == 400 && answer.code == "invalidCursor")
        answer = try await Self.send(server, .GET, "v1/pull?cursor=\(epoch):1&limit=zero", token: token)
        #expect(answer.status == 400 && answer.code == "malformedRequest")
        answer = try await Self.send(server, .GET, "v1/pull?cursor=another-epoch:1", token: token)
        #expect(answer.status == 200 && answer.body["kind"] == "reset" && answer.body["reason"] == "epochChanged")
        #expect(answer.body["records"]?.arrayValue?.count == 1)
        await server.stop()
    }
}
