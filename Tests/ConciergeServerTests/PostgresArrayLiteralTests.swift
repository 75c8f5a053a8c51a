import PostgresNIO
import Testing

@testable import ConciergeServer

/// Audiences reach PostgreSQL as array literals (`{"a","b"}`): PostgreSQL must read back exactly
/// the elements written, whatever characters they hold.
@Suite struct PostgresArrayLiteralTests {
    static let tricky = [
        "provider:acme", "", "a\"b", "back\\slash", "\\\"", "comma,and{braces}", "NULL", "  spaced  ", "Grüße 🙂",
    ]

    @Test func theLiteralQuotesAndEscapesEveryElement() {
        #expect(PendingRows.arrayLiteral([]) == "{}")
        #expect(PendingRows.arrayLiteral(["a\"b", "c\\d", "e"]) == #"{"a\"b","c\\d","e"}"#)
    }

    @Test func postgresReadsBackTheElementsWritten() async throws {
        let literal = PendingRows.arrayLiteral(Self.tricky)
        let elements = try await TestPostgres.withAdmin { connection, logger in
            try await connection.query("SELECT unnest(\(literal)::text[])", logger: logger).collect().map {
                try $0.decode(String.self)
            }
        }
        #expect(elements == Self.tricky)
    }
}
