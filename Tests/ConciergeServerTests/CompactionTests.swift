import ConciergeClient
import ConciergeCore
import Foundation
import GRDB
import Testing

@testable import ConciergeServer

@Suite struct CompactionTests {
    @Test(arguments: Engine.allCases) func compactionKeepsWhatActiveReplicasNeedAndResetsStaleOnes(engine: Engine)
        async throws
    {
        let server = try await TestServer.start(engine: engine)
        try await server.seed()
        let phone = try await server.device("anna")
        let tablet = try await server.device("anna")
        let key = try SyncIntegrationTests.newCase(phone, subject: "Old")
        try await phone.sync()
        try await tablet.sync()
        try await tablet.sync()  // a first pull carries no cursor; the second acknowledges position 1
        for rating in 1...3 {
            try phone.edit { try $0.write(.int(Int64(rating)), to: CaseFields.rating, of: key) }
            try await phone.sync()
        }
        try await phone.sync()  // the phone's next pull acknowledges the head
        // Nobody active is below the tablet's cursor yet: nothing before it may go.
        try await server.catchUpFollowers()
        #expect(try await server.store.compact() == 1)
        // The tablet has not been seen for longer than the retention window.
        try await server.zeroDeviceColumn("last_seen_at", of: tablet.transport.currentSession.replica)
        try await server.catchUpFollowers()
        #expect(try await server.store.compact() == 4)
        let stats = try await server.store.stats()
        #expect(stats["change_log"] == 0)
        // Who could read each compacted position goes with it (on PostgreSQL by a scan of the table).
        #expect(stats["change_audience"] == 0)
        #expect(try await server.store.record(key)?.value(CaseFields.rating) == 3)

        let report = try await tablet.sync()
        #expect(report.resets == ["compacted"])
        try await SyncIntegrationTests.expectMatchesProjection(tablet, server)
        #expect(try await phone.sync().resets.isEmpty)
        try phone.edit { try $0.write(5, to: CaseFields.rating, of: key) }
        try await phone.sync()
        #expect(try await tablet.sync().pulledChangeSets == 1)
        try await SyncIntegrationTests.expectMatchesProjection(tablet, server)
        await server.stop()
    }
}
