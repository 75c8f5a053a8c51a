import ConciergeCore
import Foundation
import Logging
import Synchronization
import Testing

@testable import ConciergeServer

/// A push group writes the rows of its first batches while it merges the next (write-behind).
/// Those rows belong to the group's transaction: a group that fails takes them with it, and its
/// batches, retried one by one, commit once each.
@Suite(.timeLimit(.minutes(2))) struct PostgresWriteBehindTests {
    struct Poisoned: Error {}

    /// Under the head row's lock (as while instances contend), rows are written behind; checked
    /// beside the writer, a group's rows are written whole after its checks: either way a failed
    /// group takes them with it.
    @Test(arguments: [false, true]) func aFailedGroupTakesTheRowsItWroteBehindWithIt(checkedBesideWriter: Bool)
        async throws
    {
        let url = try await TestPostgres.freshDatabase()
        var logger = Logger(label: "write-behind")
        logger.logLevel = .warning
        let poisoned = Mutex<ReplicaID?>(nil)
        // Fails the whole transaction of any group that holds the poisoned device's batch, after
        // the rows of the batches before it were written behind.
        let observer = TestObserver(onBeforeCommit: { outcomes in
            if let id = outcomes.first?.id, id.replica == poisoned.withLock({ $0 }) { throw Poisoned() }
        })
        let options = PostgresServerStore.Options(
            observer: observer, writeBehindSets: 1, checksBesideWriter: checkedBesideWriter)
        let store = try await PostgresServerStore.connect(
            url: url, maxConnections: 4, logger: logger, options: options)
        try await store.createProvider(id: "acme", name: "ACME")
        let sue = Principal(id: "sue", provider: "acme", role: .supervisor, displayName: "Sue")
        try await store.createPrincipal(sue)
        let callers = try await store.enrolDevices(for: "sue", count: 8, name: "test").map {
            Caller(principal: sue, replica: $0.replica)
        }
        poisoned.withLock { $0 = callers[3].replica }
        // Each device pushes 3 batches of 4 new cases; the batches queue behind one another and
        // share transactions.
        func batch(_ caller: Caller, _ number: Int) -> [ChangeSet] {
            var clock = HybridLogicalClock()
            let wall = UInt64(Date().timeIntervalSince1970 * 1000)
            return (0..<4).map { index in
                let key = RecordKey(type: .serviceCase, id: RecordID(UUID().uuidString.lowercased()))
                let changes = [
                    (CaseFields.provider, "acme", false), (CaseFields.customer, "cust", false),
                    (CaseFields.subject, "S", true),
                ]
                .map { field, value, personal in
                    RecordChange(
                        key,
                        .write(
                            field: field, value: .string(value), base: nil,
                            stamp: Stamp(hlc: clock.tick(wallMillis: wall), replica: caller.replica),
                            history: false, personal: personal))
                }
                return ChangeSet(
                    id: ChangeSetID(replica: caller.replica, seq: UInt64(number * 4 + index + 1)), author: sue.author,
                    schemaVersion: 1, changes: changes)
            }
        }
        let results = await withTaskGroup(of: (Int, Bool).self) { group in
            for (index, caller) in callers.enumerated() {
                group.addTask {
                    var accepted = true
                    for number in 0..<3 {
                        do {
                            let outcomes = try await store.push(
                                batch(caller, number), from: caller,
                                serverMillis: UInt64(Date().timeIntervalSince1970 * 1000) + 1_000
                            ).outcomes
                            accepted = accepted && outcomes.allSatisfy { $0.status == .accepted }
                            if let refused = outcomes.first(where: { $0.status != .accepted }) {
                                Issue.record("refused: \(String(describing: refused.error))")
                            }
                        } catch {
                            accepted = false
                        }
                    }
                    return (index, accepted)
                }
            }
            var results: [Int: Bool] = [:]
            for await (index, accepted) in group { results[index] = accepted }
            return results
        }
        // Every other device's batches were accepted (retried alone when their group failed);
        // the poisoned device's never were.
        #expect(results == Dictionary(uniqueKeysWithValues: (0..<8).map { ($0, $0 != 3) }))
        let counts = try await store.read { connection, logger in
            try await connection.query(
                """
                SELECT (SELECT count(*) FROM change_log), (SELECT count(DISTINCT (replica_id, set_seq)) FROM change_log),
                    (SELECT count(*) FROM change_set_outcome),
                    (SELECT count(*) FROM change_set_outcome WHERE replica_id = \(callers[3].replica.description)),
                    (SELECT count(*) FROM record)
                """, logger: logger
            ).collect()[0].decode((Int, Int, Int, Int, Int).self)
        }
        // 7 devices x 3 batches x 4 sets, each logged and answered once; none of the poisoned.
        #expect(counts.0 == 84 && counts.1 == 84 && counts.2 == 84 && counts.3 == 0 && counts.4 == 84)
        await store.close()
    }
}
