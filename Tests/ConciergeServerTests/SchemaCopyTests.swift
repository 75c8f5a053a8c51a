import ConciergeClient
import ConciergeServer
import ConciergeStore
import Foundation
import Testing

/// Files under schema/ are the source of truth; the binary embeds copies.
@Suite struct SchemaCopyTests {
    static let schemaFolder = Repository.path("schema")

    @Test func embeddedSQLiteMigrationsEqualTheSchemaFiles() throws {
        let folder = Self.schemaFolder.appendingPathComponent("sqlite")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }
            .sorted()
        #expect(files == SQLiteMigrations.all.map { "\($0.name).sql" })
        for migration in SQLiteMigrations.all {
            let text = try String(contentsOf: folder.appendingPathComponent("\(migration.name).sql"), encoding: .utf8)
            #expect(text == migration.sql, "\(migration.name) differs from its embedded copy")
        }
    }

    @Test func embeddedPostgresMigrationsEqualTheSchemaFiles() throws {
        let folder = Self.schemaFolder.appendingPathComponent("postgres")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }
            .sorted()
        #expect(files == PostgresMigrations.all.map { "\($0.name).sql" })
        for migration in PostgresMigrations.all {
            let text = try String(contentsOf: folder.appendingPathComponent("\(migration.name).sql"), encoding: .utf8)
            #expect(text == migration.sql, "\(migration.name) differs from its embedded copy")
        }
    }

    @Test func embeddedClientMigrationsEqualTheSchemaFiles() throws {
        let folder = Self.schemaFolder.appendingPathComponent("client")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }
            .sorted()
        #expect(files == ClientMigrations.all.map { "\($0.name).sql" })
        for migration in ClientMigrations.all {
            let text = try String(contentsOf: folder.appendingPathComponent("\(migration.name).sql"), encoding: .utf8)
            #expect(text == migration.sql, "\(migration.name) differs from its embedded copy")
        }
    }
}

/// schema/openapi.yaml describes exactly the routes the server has.
@Suite struct OpenAPITests {
    /// `METHOD /path` pairs of the document's `paths`.
    static func documentedRoutes() throws -> Set<String> {
        let text = try String(
            contentsOf: SchemaCopyTests.schemaFolder.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        var routes = Set<String>()
        var inPaths = false
        var path: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" { inPaths = true; continue }
            if inPaths, !line.hasPrefix(" "), !line.isEmpty { break }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                path = String(line.dropFirst(2).dropLast())
            } else if let path,
                let method = ["get", "post", "put", "delete", "patch"].first(where: { line == "    \($0):" })
            {
                routes.insert("\(method.uppercased()) \(path)")
            }
        }
        return routes
    }

    @Test func documentDescribesExactlyTheServersRoutes() async throws {
        var configuration = ServerConfiguration()
        configuration.dataFolder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "openapi-\(UUID().uuidString)")
        let parts = try await makeServerParts(configuration: configuration, logger: .init(label: "openapi"))
        let router = buildRouter(configuration: configuration, parts: parts)
        let served = Set(router.routes.map { "\($0.method) \($0.path)" })
        let documented = try Self.documentedRoutes()
        #expect(documented.count > 5)
        #expect(
            served.subtracting(documented).isEmpty,
            "served but not documented: \(served.subtracting(documented).sorted())")
        #expect(
            documented.subtracting(served).isEmpty,
            "documented but not served: \(documented.subtracting(served).sorted())")
    }
}

@Suite struct DemoSeedTests {
    @Test func embeddedSeedEqualsTheFixtureAndSeedsOnce() async throws {
        let file = SchemaCopyTests.schemaFolder.deletingLastPathComponent().appendingPathComponent(
            "fixtures/demo/seed.json")
        #expect(try String(contentsOf: file, encoding: .utf8) == DemoSeed.json)
        let server = try await TestServer.start()
        let created = try await DemoSeed.seed(into: server.store)
        #expect(created.count == 7)
        #expect(try await DemoSeed.seed(into: server.store).isEmpty)
        let anna = try await HTTPSyncTransport.enrol(server: server.url, code: created[0].code, deviceName: "demo")
        #expect(anna.principal == "anna")
        await server.stop()
    }
}

/// docs/sync.md lists every error code the core knows (an implementer reads the table, not the
/// sources).
@Suite struct ErrorCodeTableTests {
    @Test func theTableListsEveryCode() throws {
        let root = SchemaCopyTests.schemaFolder.deletingLastPathComponent()
        let source = try String(
            contentsOf: root.appendingPathComponent("Sources/ConciergeCore/Sync/SyncError.swift"), encoding: .utf8)
        let codes = source.matches(of: /Code\("([A-Za-z]+)"\)/).map { String($0.output.1) }
        #expect(codes.count > 20)
        let table = try String(contentsOf: root.appendingPathComponent("docs/sync.md"), encoding: .utf8)
        let listed = Set(
            table.matches(of: /^\| `([A-Za-z]+)` \|/.anchorsMatchLineEndings()).map { String($0.output.1) })
        for code in codes { #expect(listed.contains(code), "docs/sync.md does not list \(code)") }
        for code in listed { #expect(codes.contains(code), "docs/sync.md lists \(code), which the core does not know") }
    }
}
