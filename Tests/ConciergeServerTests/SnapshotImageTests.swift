import AsyncHTTPClient
import ConciergeClient
import ConciergeCore
import Foundation
import GRDB
import Testing

@testable import ConciergeServer

/// Snapshot pages send records as the images the server keeps ready, only while an image is
/// current, and never one with parts its reader may not see.
@Suite struct SnapshotImageTests {
    /// A first-sync page as `device` would get it with `accept`, asked for over HTTP.
    static func snapshotPage(_ device: TestDevice, _ server: TestServer, accept: String) async throws -> ResetSnapshot {
        var request = HTTPClientRequest(url: server.url.appendingPathComponent("v1/pull").absoluteString + "?limit=50")
        request.headers.add(name: "Authorization", value: "Bearer \(device.transport.currentSession.accessToken)")
        request.headers.add(name: "Accept", value: accept)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = Array(try await response.body.collect(upTo: 1 << 24).readableBytesView)
        let answer =
            accept == "application/json"
            ? try PullResponse(value: CanonicalJSON.decode(body)) : try PullResponse(binary: body)
        guard case .reset(let snapshot) = answer else { throw SyncError(.malformed, "expected a snapshot page") }
        return snapshot
    }

    /// The page's record of `key`, decoded, as a case.
    static func serviceCase(_ key: RecordKey, in snapshot: ResetSnapshot) throws -> ServiceCase? {
        try byKey(snapshot)[key].flatMap(ServiceCase.init)
    }

    static let withImages = "application/vnd.concierge.binary; images=1"

    /// Each record of the page, decoded, by key.
    static func byKey(_ snapshot: ResetSnapshot) throws -> [RecordKey: ConciergeCore.Record] {
        Dictionary(uniqueKeysWithValues: try snapshot.allRecords().map { ($0.key, $0) })
    }

    @Test(arguments: Engine.allCases) func imagesBuiltInTheBackgroundServeSnapshotsAndEveryFormAgrees(engine: Engine)
        async throws
    {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let store = server.store
        let anna = try await server.device("anna")
        for index in 0..<3 { _ = try SyncIntegrationTests.newCase(anna, subject: "case \(index)") }
        try await anna.sync()
        // The builder follows the commits by itself.
        await server.snapshotImagesIdle()

        let ben = try await server.device("ben")
        let images = try await Self.snapshotPage(ben, server, accept: Self.withImages)
        #expect(images.records.isEmpty && images.images.count == 3)
        // Clients that take no images get the same records, decoded.
        let binary = try await Self.snapshotPage(ben, server, accept: "application/vnd.concierge.binary")
        let json = try await Self.snapshotPage(ben, server, accept: "application/json")
        #expect(binary.images.isEmpty && json.images.isEmpty)
        let principal = try #require(try await store.principal("ben"))
        let projection = Dictionary(
            uniqueKeysWithValues: try await store.projection(for: principal).map { ($0.key, $0) })
        for page in [images, binary, json] { #expect(try Self.byKey(page) == projection) }

        // A replica file stores the images as they arrived and holds exactly the projection.
        try await ben.sync()
        try await SyncIntegrationTests.expectMatchesProjection(ben, server)
        await server.stop()
    }

    @Test(arguments: Engine.allCases) func aStaleImageIsNeverSent(engine: Engine) async throws {
        // Images built only when asked: the change below stays newer than its case's image.
        let server = try await TestServer.start(engine: engine) { $0.snapshotImages = false }
        try await server.seed()
        let store = server.store
        let anna = try await server.device("anna")
        let changed = try SyncIntegrationTests.newCase(anna, subject: "Router drops every evening")
        let untouched = try SyncIntegrationTests.newCase(anna, subject: "Wrong bill")
        try await anna.sync()
        try await server.buildSnapshotImages()
        let ben = try await server.device("ben")
        try ben.edit { try $0.write("urgent", to: CaseFields.priority, of: changed) }
        #expect(try await ben.sync().accepted == 1)

        // The changed case's image is older than its change: the case comes from its rows.
        let page = try await Self.snapshotPage(ben, server, accept: Self.withImages)
        #expect(Set(try page.images.map { try $0.decode().key }) == [untouched])
        #expect(try Self.serviceCase(changed, in: page)?.priority == "urgent")
        let principal = try #require(try await store.principal("ben"))
        #expect(
            try Self.byKey(page)[changed] == (try await store.projection(for: principal)).first { $0.key == changed })
        await server.stop()
    }

    @Test(arguments: Engine.allCases) func anErasureTakesTheRecordsImageWithIt(engine: Engine) async throws {
        let server = try await TestServer.start(engine: engine) { $0.snapshotImages = false }
        try await server.seed()
        let store = server.store
        let anna = try await server.device("anna")
        let key = try SyncIntegrationTests.newCase(anna, subject: "My new address is Elm Street 5")
        try await anna.sync()
        try await server.buildSnapshotImages()
        func image() async throws -> [UInt8]? { try await server.storedImage(of: key) }
        let street = Array("Elm Street".utf8)
        func holdsStreet(_ bytes: [UInt8]?) -> Bool {
            guard let bytes else { return false }
            return (0...(bytes.count - street.count)).contains { Array(bytes[$0..<$0 + street.count]) == street }
        }
        #expect(holdsStreet(try await image()))

        try anna.edit { try $0.redact(key) }
        #expect(try await anna.sync().accepted == 1)
        // Gone with the erasure's commit, before any builder ran; the next image holds no trace.
        #expect(try await image() == nil)
        try await server.buildSnapshotImages()
        #expect(try await image() != nil)
        #expect(!holdsStreet(try await image()))
        await server.stop()
    }

    @Test(arguments: Engine.allCases) func aCustomerNeverGetsTheImageOfACaseWithInternalNotes(engine: Engine)
        async throws
    {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let store = server.store
        let anna = try await server.device("anna")
        let noted = try SyncIntegrationTests.newCase(anna, subject: "Router drops every evening")
        let plain = try SyncIntegrationTests.newCase(anna, subject: "Wrong bill")
        try await anna.sync()
        let ben = try await server.device("ben")
        try await ben.sync()
        try ben.edit { editor in
            try editor.append(EntryKind.note, to: CaseFields.timeline, of: noted, personal: ["body": "Suspect pair 2"])
        }
        #expect(try await ben.sync().accepted == 1)
        try await server.buildSnapshotImages()

        // Staff get both as images, the note included.
        let staff = try await Self.snapshotPage(ben, server, accept: Self.withImages)
        #expect(staff.images.count == 2)
        let bensCase = try #require(try Self.serviceCase(noted, in: staff))
        #expect(bensCase.timeline.contains { $0.kind == EntryKind.note })

        // The customer gets the case without notes as its image, the other from its rows, projected.
        let fresh = try await server.device("anna")
        let customer = try await Self.snapshotPage(fresh, server, accept: Self.withImages)
        #expect(try customer.images.map { try $0.decode().key } == [plain])
        let annasCase = try #require(try Self.serviceCase(noted, in: customer))
        #expect(!annasCase.timeline.contains { EntryKind.internalKinds.contains($0.kind) })
        try await fresh.sync()
        try await SyncIntegrationTests.expectMatchesProjection(fresh, server)
        await server.stop()
    }
}
