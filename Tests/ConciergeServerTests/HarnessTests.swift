import ConciergeCore
import ConciergeHarness
import ConciergeServer
import Foundation
import Testing

/// The integration harness on the real server: replicas converge to the independent oracle on
/// every seed. `make test`: 5 replicas, 200 edits, 3 seeds; `make soak`: 20, 2,000, 20.
@Suite(.serialized) struct HarnessTests {
    static let environment = ProcessInfo.processInfo.environment
    static let replicas = Int(environment["CONCIERGE_HARNESS_REPLICAS"] ?? "") ?? 5
    static let edits = Int(environment["CONCIERGE_HARNESS_EDITS"] ?? "") ?? 200
    static let seeds = Int(environment["CONCIERGE_HARNESS_SEEDS"] ?? "") ?? 3

    @Test(arguments: (1...seeds).map { UInt64($0) * 7919 })
    func replicasConvergeToTheOracle(seed: UInt64) async throws {
        let server = try await TestServer.start()
        try await server.seed()
        let principals = try await ["anna", "carl", "ben", "tom", "tina", "sue"].asyncMap {
            try await server.store.principal(PrincipalID($0))!
        }
        var configuration = Harness.Configuration(seed: seed, folder: server.folder.appendingPathComponent("harness"))
        configuration.replicas = Self.replicas
        configuration.edits = Self.edits
        configuration.cliBinary = Repository.path(".build/debug/concierge")
        let store = server.store
        let result = try await Harness.run(configuration, server: server.url, principals: principals) { principal in
            try await store.issueEnrolmentCode(for: principal)
        }
        await server.stop()
        print("harness \(result)")
        #expect(result.mismatches.isEmpty, "\(result.mismatches)")
        #expect(result.acknowledged > 0)
    }

    /// Two instances on one PostgreSQL database, replicas spread over both and switching between
    /// them mid-stream: the same oracle, byte for byte.
    @Test(arguments: (1...seeds).map { UInt64($0) * 7919 })
    func replicasOnTwoPostgresInstancesConvergeToTheOracle(seed: UInt64) async throws {
        let first = try await TestServer.start(engine: .postgres)
        let second = try await TestServer.start(engine: .postgres, databaseURL: first.configuration.databaseURL)
        try await first.seed()
        let principals = try await ["anna", "carl", "ben", "tom", "tina", "sue"].asyncMap {
            try await second.store.principal(PrincipalID($0))!
        }
        var configuration = Harness.Configuration(seed: seed, folder: first.folder.appendingPathComponent("harness"))
        configuration.replicas = Self.replicas
        configuration.edits = Self.edits
        configuration.cliBinary = Repository.path(".build/debug/concierge")
        let store = second.store
        let result = try await Harness.run(
            configuration, servers: [first.url, second.url], principals: principals
        ) { principal in
            try await store.issueEnrolmentCode(for: principal)
        }
        await first.stop()
        await second.stop()
        print("harness (PostgreSQL, 2 instances) \(result)")
        #expect(result.mismatches.isEmpty, "\(result.mismatches)")
        #expect(result.acknowledged > 0)
        #expect(result.switches > 0)
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
