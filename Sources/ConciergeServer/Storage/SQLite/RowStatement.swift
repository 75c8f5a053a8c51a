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
    /// - Throws: `DatabaseError` when SQLite refuses a value or the row (nothing of the row is
    ///   written; the caller's transaction then rolls back).
    func run(_ bind: (inout Binder) -> Void) throws {
        let handle = statement.sqliteStatement
        sqlite3_reset(handle)
        var binder = Binder(handle: handle)
        bind(&binder)
        assert(binder.index - 1 == sqlite3_bind_parameter_count(handle), "every parameter is bound")
        // A value SQLite did not take would run the row with NULL in its place.
        let code = binder.refused ?? sqlite3_step(handle)
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
        /// The code of the first value SQLite refused, if any.
        fileprivate var refused: Int32?

        /// SQLite copies the value before the bind returns.
        private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

        mutating func bind(_ value: Int64) {
            took(sqlite3_bind_int64(handle, index, value))
        }

        mutating func bind(_ value: Int64?) {
            if let value { bind(value) } else { bindNull() }
        }

        mutating func bind(_ value: String) {
            var value = value
            let code = value.withUTF8 { text in
                // An empty buffer may have no address, which SQLite would take for NULL.
                guard let address = text.baseAddress else {
                    return sqlite3_bind_text(handle, index, "", 0, Self.transient)
                }
                return address.withMemoryRebound(to: CChar.self, capacity: text.count) {
                    sqlite3_bind_text(handle, index, $0, Int32(text.count), Self.transient)
                }
            }
            took(code)
        }

        mutating func bind(_ value: String?) {
            if let value { bind(value) } else { bindNull() }
        }

        mutating func bind(_ value: some ContiguousBytes) {
            let code = value.withUnsafeBytes { bytes in
                // An empty blob, not NULL.
                guard let address = bytes.baseAddress else { return sqlite3_bind_zeroblob(handle, index, 0) }
                return sqlite3_bind_blob(handle, index, address, Int32(bytes.count), Self.transient)
            }
            took(code)
        }

        private mutating func bindNull() {
            took(sqlite3_bind_null(handle, index))
        }

        /// Moves to the next parameter, keeping the first refusal.
        private mutating func took(_ code: Int32) {
            if code != SQLITE_OK && refused == nil { refused = code }
            index += 1
        }
    }
}
