import ConciergeServer
import Foundation
import Testing

/// Files under schema/ are the source of truth; the binary embeds copies.
@Suite struct SchemaCopyTests {
    static let schemaFolder: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            let candidate = url.appendingPathComponent("schema")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
        }
        fatalError("no schema/ folder above \(#filePath)")
    }()

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
}
