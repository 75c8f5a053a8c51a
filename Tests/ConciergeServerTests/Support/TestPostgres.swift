import ConciergeServer
import Foundation
import Logging
import PostgresNIO
import Testing

/// The storage engines the contract tests run against.
enum Engine: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    var testDescription: String { rawValue }
}

/// The throwaway PostgreSQL the test command starts (`tools/scripts/with-postgres.sh` exports its
/// URL). Every test gets a database of its own. Without the server, the PostgreSQL tests fail
/// with a message saying how to run them: they never skip silently.
enum TestPostgres {
    struct Missing: Error, CustomStringConvertible {
        var description: String {
            "the PostgreSQL tests need a server: run them with `make test`, which starts a throwaway one "
                + "(tools/scripts/with-postgres.sh), or set CONCIERGE_TEST_DATABASE_URL to a superuser's URL"
        }
    }

    static func adminURL() throws -> URLComponents {
        guard let text = ProcessInfo.processInfo.environment["CONCIERGE_TEST_DATABASE_URL"],
            let url = URLComponents(string: text)
        else { throw Missing() }
        return url
    }

    /// A new, empty database on the test server; its URL.
    static func freshDatabase() async throws -> String {
        var url = try adminURL()
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await withAdmin { connection, logger in
            try await connection.query("CREATE DATABASE \(unescaped: name)", logger: logger)
        }
        url.path = "/\(name)"
        return url.string!
    }

    /// Runs `body` on a connection to the server's `postgres` database.
    static func withAdmin<T: Sendable>(
        database: String? = nil, _ body: @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        let url = try adminURL()
        var logger = Logger(label: "test-postgres")
        logger.logLevel = .warning
        let configuration = PostgresClient.Configuration(
            host: url.host ?? "127.0.0.1", port: url.port ?? 5432, username: url.user ?? "postgres",
            password: url.password, database: database ?? String(url.path.dropFirst()), tls: .disable)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        // Started at once, on this task, up to its first suspension: a lease made before `run()`
        // began logs a warning (and waits for it).
        let runner = Task.immediate { await client.run() }
        defer { runner.cancel() }
        return try await client.withConnection { connection in try await body(connection, logger) }
    }
}
