import ConciergeClient
import ConciergeCore
import ConciergeServer
import Foundation
import Testing

/// The first sync arrives in pages, newest activity first, each usable at once; changes made while
/// it pages are not lost.
@Suite struct ProgressiveSyncTests {
    @Test(arguments: Engine.allCases) func firstSyncIsPagedNewestFirstAndLosesNothingChangedMeanwhile(engine: Engine)
        async throws
    {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let sue = try await server.device("sue")
        var keys: [RecordKey] = []
        for index in 0..<120 {
            keys.append(try SyncIntegrationTests.newCase(sue, subject: "case \(index)", customer: "anna"))
            if index % 40 == 39 { try await sue.sync() }
        }
        // Activity on an old case makes it the newest.
        try sue.edit { try $0.write("urgent", to: CaseFields.priority, of: keys[3]) }
        try await sue.sync()

        let ben = try await server.device("ben")
        let first = try await ben.transport.pull(PullRequest(cursor: nil, limit: 25))
        guard case .reset(let page) = first else { throw SyncError(.malformed, "expected a reset page") }
        #expect(!page.continues && page.reason == "initial" && page.more != nil)
        // The newest activity first (within a page, records come as images or decoded, in any order).
        #expect(Set(try page.allRecords().map(\.key)) == Set([keys[3]] + keys[96...].reversed().prefix(24)))
        try ben.replica.applyPullResponse(first)
        #expect(try ben.replica.visibleRecords(of: .serviceCase).count == 25)  // usable now
        #expect(try ben.replica.metadata().snapshot == page.more)

        // While the rest streams in: a case already delivered and one not yet delivered change.
        try sue.edit { editor in
            try editor.write("high", to: CaseFields.priority, of: keys[100])
            try editor.write("low", to: CaseFields.priority, of: keys[10])
        }
        try await sue.sync()
        let report = try await ben.engine.sync()
        #expect(report.snapshotRecords >= 95 && report.resets.isEmpty)
        #expect(try ben.replica.metadata().snapshot == nil)
        try await SyncIntegrationTests.expectMatchesProjection(ben, server)
        await server.stop()
    }

    @Test(arguments: Engine.allCases) func aMalformedSnapshotTokenIsRefused(engine: Engine) async throws {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let ben = try await server.device("ben")
        await #expect(throws: SyncError.self) {
            _ = try await ben.transport.pull(PullRequest(cursor: nil, limit: 10, snapshot: "not-a-token"))
        }
        await server.stop()
    }
}
