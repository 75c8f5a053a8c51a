import Foundation
import NIOSSL
import PostgresNIO

/// Reads a PostgreSQL connection URL: `postgres://user:password@host:port/database?sslmode=mode`
/// (`postgresql://` too). The user, password and database are percent-decoded; the port defaults
/// to 5432, the host to localhost. `sslmode` is `disable`, `prefer` (the default, as in libpq) or
/// `require` (certificates verified against the system's roots).
enum PostgresURL {
    static func configuration(_ text: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: text),
            components.scheme == "postgres" || components.scheme == "postgresql"
        else {
            throw ConfigurationError(
                message: "the database URL must look like postgres://user:password@host:port/database")
        }
        guard let user = components.percentEncodedUser?.removingPercentEncoding, !user.isEmpty else {
            throw ConfigurationError(message: "the database URL names no user")
        }
        let database = String(components.percentEncodedPath.dropFirst()).removingPercentEncoding
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw ConfigurationError(message: "sslmode must be disable, prefer or require, not \"\(mode)\"")
        }
        return PostgresClient.Configuration(
            host: components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "localhost", port: components.port ?? 5432,
            username: user, password: components.percentEncodedPassword?.removingPercentEncoding,
            database: database?.isEmpty == false ? database : nil, tls: tls)
    }
}
