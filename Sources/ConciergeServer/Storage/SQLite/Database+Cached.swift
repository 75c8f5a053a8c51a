import GRDB

extension Database {
    /// Executes one statement, compiled once per connection and reused: the push path runs the
    /// same few statements for every change set.
    func cachedExecute(sql: String, arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }
}
