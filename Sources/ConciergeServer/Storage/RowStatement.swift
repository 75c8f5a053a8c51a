import Foundation
import GRDB

#if canImport(GRDBSQLite)
    import GRDBSQLite
#else
    import SQLite3
#endif

/// A statement of the push writer's, run once per row with its values bound straight to SQLite.
///
/// The writer is the one thread a SQLite file's pushes pass through, and it runs a few statements
/// thousands of times per commit. Binding through GRDB's `StatementArguments` builds an array of
/// existential values per row and runs GRDB's per-statement bookkeeping (observation, regions),
/// none of which the writer uses: here the values go to `sqlite3_bind_*` directly, and each run is
/// one `sqlite3_step`. The statement comes from the connection's statement cache, so it is
/// compiled once per connection. Only for statements that return no rows.
struct RowStatement {
    private let statement: Statement
    private let db: Database

    init(_ sql: String, in db: Database) throws {
        statement = try db.cachedStatement(sql: sql)
        self.db = db
    }

    /// Binds what `bind` binds (every parameter of the statement, in order) and runs the statement.
    /// - Throws: `DatabaseError` when SQLite refuses the row; the caller's transaction then rolls
    ///   back.
    func run(_ bind: (inout Binder) -> Void) throws {
        let handle = statement.sqliteStatement
        sqlite3_reset(handle)
        var binder = Binder(handle: handle)
        bind(&binder)
        assert(binder.index - 1 == sqlite3_bind_parameter_count(handle), "every parameter is bound")
        let code = sqlite3_step(handle)
        guard code == SQLITE_DONE else {
            let error = DatabaseError(
                resultCode: ResultCode(rawValue: code), message: db.lastErrorMessage, sql: statement.sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Runs the statement once per element, with the values `bind` binds for it.
    func run<S: Sequence>(each elements: S, _ bind: (inout Binder, S.Element) -> Void) throws {
        for element in elements { try run { bind(&$0, element) } }
    }

    /// Binds the parameters of one run, in order.
    struct Binder {
        fileprivate let handle: SQLiteStatement
        fileprivate var index: Int32 = 1

        /// SQLite copies the value before the bind returns.
        private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

        mutating func bind(_ value: Int64) {
            sqlite3_bind_int64(handle, index, value)
            index += 1
        }

        mutating func bind(_ value: Int64?) {
            if let value { bind(value) } else { bindNull() }
        }

        mutating func bind(_ value: String) {
            var value = value
            value.withUTF8 { text in
                // An empty buffer may have no address, which SQLite would take for NULL.
                if let address = text.baseAddress {
                    address.withMemoryRebound(to: CChar.self, capacity: text.count) {
                        _ = sqlite3_bind_text(handle, index, $0, Int32(text.count), Self.transient)
                    }
                } else {
                    _ = sqlite3_bind_text(handle, index, "", 0, Self.transient)
                }
            }
            index += 1
        }

        mutating func bind(_ value: String?) {
            if let value { bind(value) } else { bindNull() }
        }

        mutating func bind(_ value: some ContiguousBytes) {
            value.withUnsafeBytes { bytes in
                if let address = bytes.baseAddress {
                    _ = sqlite3_bind_blob(handle, index, address, Int32(bytes.count), Self.transient)
                } else {
                    // An empty blob, not NULL.
                    _ = sqlite3_bind_zeroblob(handle, index, 0)
                }
            }
            index += 1
        }

        private mutating func bindNull() {
            sqlite3_bind_null(handle, index)
            index += 1
        }
    }
}
