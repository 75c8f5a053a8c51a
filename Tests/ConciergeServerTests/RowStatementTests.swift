import Foundation
import GRDB
import Testing

@testable import ConciergeServer

#if canImport(GRDBSQLite)
    import GRDBSQLite
#else
    import SQLite3
#endif

/// The push writer's statements bind values straight to SQLite: each value arrives as bound, and a
/// value SQLite refuses fails the row instead of running it with NULL in its place.
@Suite struct RowStatementTests {
    @Test func valuesArriveAsBoundAndARefusedValueWritesNothing() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (n INTEGER, text TEXT, blob BLOB, maybe TEXT)")
            let insert = try RowStatement("INSERT INTO t (n, text, blob, maybe) VALUES (?, ?, ?, ?)", in: db)
            try insert.run {
                $0.bind(Int64(-7))
                $0.bind("")
                $0.bind(Data())
                $0.bind(String?.none)
            }
            let row = try #require(try Row.fetchOne(db, sql: "SELECT n, text, blob, maybe FROM t"))
            #expect(row["n"] as Int64 == -7)
            // Empty text and an empty blob are values, not NULL.
            #expect(row["text"] as String? == "")
            #expect(row["blob"] as Data? == Data())
            #expect(row["maybe"] as String? == nil)

            // SQLite refuses a value longer than its length limit (lowered here to 16 bytes).
            sqlite3_limit(db.sqliteConnection, SQLITE_LIMIT_LENGTH, 16)
            #expect(throws: DatabaseError.self) {
                try insert.run {
                    $0.bind(Int64(1))
                    $0.bind("far longer than sixteen bytes")
                    $0.bind(Data([1]))
                    $0.bind(String?.none)
                }
            }
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t") == 1)
        }
    }
}
