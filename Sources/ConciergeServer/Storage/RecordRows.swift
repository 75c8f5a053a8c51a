import ConciergeCore
import Foundation
import GRDB

/// Reads and writes records as rows: one per record (markers, audience), one per register or set
/// field, one per log entry. A change rewrites only the rows it touches. Field and entry states are
/// stored in the binary form (``BinaryForm``); rows that earlier versions wrote as canonical JSON
/// are still read, and are rewritten in the binary form when a change touches them.
enum RecordRows {
    /// What of a record's entries a push reads: the entries its changes name, and whole kinds of
    /// entries its policy's checks read (``RecordPolicy/reads(_:)``), or everything. Field rows are
    /// always read whole. A check sees the record through ``LoadedRecord``, which knows this.
    struct Need: Sendable {
        /// Entries by id, per log field.
        var entries: [String: Set<EntryID>] = [:]
        /// Every entry of these kinds, per log field.
        var kinds: [String: Set<String>] = [:]
        var everything = false

        /// The entries the changes append or erase (an erasure of the record: everything).
        init(_ changes: [Change]) {
            for change in changes {
                switch change {
                case .append(let field, let entry): entries[field, default: []].insert(entry.id)
                case .redactEntry(let field, let entry, _): entries[field, default: []].insert(entry)
                case .redact: everything = true
                default: break
                }
            }
        }

        /// Whether it asks for any entry.
        var asksForEntries: Bool { everything || !entries.isEmpty || !kinds.isEmpty }

        /// Whether it asks for an entry found in `field` with `kind`.
        func wants(field: String, entry: String, kind: String) -> Bool {
            everything || entries[field]?.contains(EntryID(entry)) == true || kinds[field]?.contains(kind) == true
        }

        /// Everything either needs.
        mutating func merge(_ other: Need) {
            entries.merge(other.entries) { $0.union($1) }
            kinds.merge(other.kinds) { $0.union($1) }
            everything = everything || other.everything
        }

        static let all: Need = {
            var need = Need([]); need.everything = true; return need
        }()
    }

    /// A stored row in canonical JSON (markers, change sets).
    static func decode<T>(_ data: Data, _ make: (Value) throws(CodecError) -> T) throws -> T {
        try stored(data) { (bytes) throws(CodecError) in try make(CanonicalJSON.decode(bytes)) }
    }

    /// A stored field or entry state or logged change set (a binary form; canonical JSON in rows
    /// written before it).
    static func stored<T>(_ data: Data, _ make: ([UInt8]) throws(CodecError) -> T) throws -> T {
        do {
            return try make([UInt8](data))
        } catch {
            throw StoreError(.corrupt, "a stored row does not decode: \(error)")
        }
    }

    /// Loads what `need` asks of a record; `nil` when the record does not exist.
    static func load(_ key: RecordKey, need: Need, in db: Database) throws -> Record? {
        guard let markers = try markers(key, in: db) else { return nil }
        return try assemble(
            key, deleted: markers.deleted, redacted: markers.redacted,
            fields: try fieldRows(key, nil, in: db),
            entries: try entryRows(key, need: need, in: db).map { ($0.field, $0.state) })
    }

    /// The record row's markers; `nil` when the record does not exist.
    static func markers(_ key: RecordKey, in db: Database) throws -> (deleted: String?, redacted: String?)? {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT deleted, redacted FROM record WHERE type = ? AND id = ?"),
                arguments: [key.type.rawValue, key.id.rawValue])
        else { return nil }
        return (row[0], row[1])
    }

    /// The record's field rows named in `names` (`nil`: all of them).
    static func fieldRows(_ key: RecordKey, _ names: Set<String>?, in db: Database) throws -> [(
        field: String, state: Data
    )] {
        // One search and a short scan of the record's rows: an `IN` list of names would search the
        // primary key once per name. Rows not needed are skipped before their state is read.
        var fieldRows: [(field: String, state: Data)] = []
        let cursor = try Row.fetchCursor(
            db.cachedStatement(sql: "SELECT field, state FROM record_field WHERE type = ? AND id = ?"),
            arguments: [key.type.rawValue, key.id.rawValue])
        while let row = try cursor.next() {
            let field: String = row[0]
            if names?.contains(field) ?? true { fieldRows.append((field, row[1])) }
        }
        return fieldRows
    }

    /// The record's entry rows `need` asks for (none for a change that appends or erases none).
    static func entryRows(_ key: RecordKey, need: Need, in db: Database) throws -> [(
        field: String, entry: String, state: Data
    )] {
        if need.everything {
            return try Row.fetchAll(
                db.cachedStatement(
                    sql: "SELECT field, entry_id, state FROM record_entry WHERE type = ? AND id = ?"),
                arguments: [key.type.rawValue, key.id.rawValue]
            ).map { ($0[0], $0[1], $0[2]) }
        }
        var rows: [Row] = []
        for (field, ids) in need.entries {
            let list = ids.map(\.rawValue)
            rows += try Row.fetchAll(
                db.cachedStatement(
                    sql:
                        "SELECT field, entry_id, state FROM record_entry WHERE type = ? AND id = ? AND field = ? AND entry_id IN (\(list.map { _ in "?" }.joined(separator: ",")))"
                ),
                arguments: StatementArguments([key.type.rawValue, key.id.rawValue, field] + list))
        }
        for (field, kinds) in need.kinds where !kinds.isEmpty {
            let list = kinds.sorted()
            rows += try Row.fetchAll(
                db.cachedStatement(
                    sql:
                        "SELECT field, entry_id, state FROM record_entry WHERE type = ? AND id = ? AND field = ? AND kind IN (\(list.map { _ in "?" }.joined(separator: ",")))"
                ),
                arguments: StatementArguments([key.type.rawValue, key.id.rawValue, field] + list))
        }
        return rows.map { ($0[0], $0[1], $0[2]) }
    }

    /// The whole records of `keys`, in their order (keys with no record are skipped), reading each
    /// table once per chunk of keys instead of three statements per record: a snapshot page.
    static func loadWhole(_ keys: [RecordKey], in db: Database) throws -> [Record] {
        var records: [Record] = []
        records.reserveCapacity(keys.count)
        let chunkSize = 250
        for start in stride(from: 0, to: keys.count, by: chunkSize) {
            let chunk = Array(keys[start..<min(start + chunkSize, keys.count)])
            // A join with a list of values: SQLite searches the primary key once per key (a row
            // value `IN` list would scan the table). Each key carries its place in the chunk, so
            // a row says which record it belongs to without a key to hash and look up.
            let list = "(VALUES \(chunk.map { _ in "(?, ?, ?)" }.joined(separator: ",")))"
            var values: [(any DatabaseValueConvertible)?] = []
            values.reserveCapacity(chunk.count * 3)
            for (index, key) in chunk.enumerated() { values += [key.type.rawValue, key.id.rawValue, index] }
            let arguments = StatementArguments(values)
            /// Calls `body` with each row's place in the chunk and its two columns, reading the
            /// rows through one cursor (no row copied).
            func rows<A: DatabaseValueConvertible, B: DatabaseValueConvertible>(
                _ columns: String, from table: String, _ body: (Int, A, B) -> Void
            ) throws {
                let cursor = try Row.fetchCursor(
                    db.cachedStatement(
                        sql: """
                            SELECT k.column3, \(columns) FROM \(list) AS k
                            JOIN \(table) AS t ON t.type = k.column1 AND t.id = k.column2
                            """), arguments: arguments)
                while let row = try cursor.next() { body(row[0], row[1], row[2]) }
            }
            var markers = [(deleted: String?, redacted: String?)?](repeating: nil, count: chunk.count)
            var fields = [[(field: String, state: Data)]](repeating: [], count: chunk.count)
            var entries = [[(field: String, state: Data)]](repeating: [], count: chunk.count)
            try rows("t.deleted, t.redacted", from: "record") { (index, deleted: String?, redacted: String?) in
                markers[index] = (deleted, redacted)
            }
            try rows("t.field, t.state", from: "record_field") { (index, field: String, state: Data) in
                fields[index].append((field, state))
            }
            try rows("t.field, t.state", from: "record_entry") { (index, field: String, state: Data) in
                entries[index].append((field, state))
            }
            for (index, key) in chunk.enumerated() {
                guard let marker = markers[index] else { continue }
                records.append(
                    try assemble(
                        key, deleted: marker.deleted, redacted: marker.redacted, fields: fields[index],
                        entries: entries[index]))
            }
        }
        return records
    }

    /// A record from its stored rows: the record row's markers, field rows and entry rows (in any
    /// order). Shared by the engines.
    static func assemble(
        _ key: RecordKey, deleted: String?, redacted: String?, fields fieldRows: [(field: String, state: Data)],
        entries entryRows: [(field: String, state: Data)]
    ) throws -> Record {
        var fields: [String: Field] = [:]
        for (name, state) in fieldRows {
            fields[name] = try stored(state, BinaryForm.field(stored:))
        }
        try attach(entryRows, to: &fields, of: key)
        return Record(key: key, fields: fields, deleted: try stamp(deleted), redacted: try stamp(redacted))
    }

    /// Adds stored entry rows to the log fields they belong to (which must be among `fields`).
    static func attach(
        _ entryRows: [(field: String, state: Data)], to fields: inout [String: Field], of key: RecordKey
    ) throws {
        guard !entryRows.isEmpty else { return }
        var logs: [String: LogState] = [:]
        for (field, state) in entryRows {
            if logs[field] == nil {
                guard case .log(let log)? = fields[field]?.state else {
                    throw StoreError(.corrupt, "entries of \(key)/\(field) without their log row")
                }
                logs[field] = log
            }
            let entry = try stored(state, BinaryForm.entry(stored:))
            do { try logs[field]!.append(entry) } catch {
                throw StoreError(.corrupt, "stored entries collide: \(error)")
            }
        }
        for (field, log) in logs { fields[field] = Field(state: .log(log)) }
    }

    /// A log field as its field row stores it: its redactions, without its entries (they have rows
    /// of their own).
    static func rowForm(_ field: Field) -> Field {
        guard case .log(let log) = field.state else { return field }
        return Field(state: .log(LogState(entries: [:], redactions: log.redactions)))
    }

    /// The record as its record and field rows store it (the form ``RecordCache`` keeps).
    static func rowForm(_ record: Record) -> Record {
        let hasEntries = record.fields.values.contains {
            if case .log(let log) = $0.state { !log.entries.isEmpty } else { false }
        }
        guard hasEntries else { return record }
        return Record(
            key: record.key, fields: record.fields.mapValues(rowForm), deleted: record.deleted,
            redacted: record.redacted)
    }

    static func stamp(_ text: String?) throws -> Stamp? {
        guard let text else { return nil }
        return try decode(Data(text.utf8), Stamp.init(value:))
    }

    static func text(_ stamp: Stamp?) -> String? {
        stamp.map { CanonicalJSON.string($0.value) }
    }

    /// The rows a change writes: the record row, and the field and entry rows it touched (all of
    /// them after an erasure). Shared by the engines.
    struct Writes {
        var type: String
        var id: String
        var deleted: String?
        var redacted: String?
        /// The record's audience tags, sorted.
        var audience: [String]
        var fields: [(name: String, state: Data)] = []
        var entries: [(field: String, entryID: String, kind: String, state: Data)] = []
    }

    static func writes(_ record: Record, touched changes: [Change], audience: Set<String>) -> Writes {
        var writes = Writes(
            type: record.type.rawValue, id: record.id.rawValue, deleted: text(record.deleted),
            redacted: text(record.redacted), audience: audience.sorted())
        let everything = changes.contains { if case .redact = $0 { true } else { false } }
        var fields = Set(changes.compactMap(\.field))
        var entries: [String: Set<EntryID>] = [:]
        for change in changes {
            switch change {
            case .append(let field, let entry): entries[field, default: []].insert(entry.id)
            case .redactEntry(let field, let entry, _): entries[field, default: []].insert(entry)
            default: break
            }
        }
        if everything {
            fields = Set(record.fields.keys)
            for (name, field) in record.fields {
                if case .log(let log) = field.state { entries[name] = Set(log.entries.keys) }
            }
        }
        for name in fields.sorted() {
            guard let field = record.fields[name] else { continue }
            if case .log(let log) = field.state {
                for entryID in (entries[name] ?? []).sorted(by: { $0.rawValue < $1.rawValue }) {
                    guard let entry = log.entries[entryID] else { continue }
                    writes.entries.append(
                        (name, entryID.rawValue, entry.kind, Data(entry.binary)))
                }
            }
            writes.fields.append((name, Data(rowForm(field).binary)))
        }
        return writes
    }
}
