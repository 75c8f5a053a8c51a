/// Builds one local change set: each method stamps a change from the replica's clock, fills in
/// what the writer saw (the base of a write, the observed tags of a remove) from the visible state,
/// and applies it to the working copy so that later changes in the same edit see it.
///
/// An editor lives inside one store transaction (``Replica/edit(_:)``), so it is not `Sendable`.
public struct Editor {
    public let author: Author
    let replica: ReplicaID
    let schema: Schema
    let wallClock: any WallClock
    var clock: HybridLogicalClock
    var working: [RecordKey: Record]
    let visible: (RecordKey) throws -> Record?
    public private(set) var changes: [RecordChange] = []

    init(
        author: Author, replica: ReplicaID, schema: Schema, wallClock: any WallClock,
        clock: HybridLogicalClock, visible: @escaping (RecordKey) throws -> Record?
    ) {
        self.author = author
        self.replica = replica
        self.schema = schema
        self.wallClock = wallClock
        self.clock = clock
        self.working = [:]
        self.visible = visible
    }

    /// The record as this edit sees it so far.
    public mutating func record(_ key: RecordKey) throws -> Record? {
        if let record = working[key] { return record }
        let record = try visible(key)
        working[key] = record
        return record
    }

    mutating func nextStamp() -> Stamp {
        Stamp(hlc: clock.tick(wallMillis: wallClock.nowMillis()), replica: replica)
    }

    mutating func declaration(_ field: String, on key: RecordKey, kind: FieldKind) throws -> FieldDeclaration {
        guard let declaration = schema.declaration(of: field, on: key.type) else {
            throw SyncError(.unknownField, "unknown field \"\(field)\" on \(key.type)")
        }
        guard declaration.kind == kind else {
            throw SyncError(.unknownField, "field \"\(field)\" on \(key.type) is a \(declaration.kind), not a \(kind)")
        }
        return declaration
    }

    mutating func record(_ change: Change, on key: RecordKey) throws {
        // The server's default limits: a change it would refuse is not saved.
        try ContentLimits.default.check(change)
        var record = try record(key) ?? Record(key: key)
        try record.apply(change, by: author)
        working[key] = record
        changes.append(RecordChange(key, change))
    }

    /// Writes a register field; its base is the stamp of the value visible now.
    public mutating func write(_ value: Value, to field: String, of key: RecordKey) throws {
        let declaration = try declaration(field, on: key, kind: .register)
        let base = try record(key)?.register(field)?.latest.stamp
        try record(
            .write(
                field: field, value: value, base: base, stamp: nextStamp(), history: declaration.history,
                personal: declaration.personal),
            on: key)
    }

    /// Adds an element to a set field.
    public mutating func add(_ element: String, to field: String, of key: RecordKey) throws {
        _ = try declaration(field, on: key, kind: .set)
        try record(.add(field: field, element: element, stamp: nextStamp()), on: key)
    }

    /// Removes an element from a set field: exactly the adds visible now.
    public mutating func remove(_ element: String, from field: String, of key: RecordKey) throws {
        _ = try declaration(field, on: key, kind: .set)
        let observed = try record(key)?.set(field)?.tags(of: element) ?? []
        try record(.remove(field: field, element: element, observed: observed, stamp: nextStamp()), on: key)
    }

    /// Appends a log entry and returns its id: `id` when given (a channel's own message id), else a
    /// new UUID.
    @discardableResult
    public mutating func append(
        _ kind: String, to field: String, of key: RecordKey, id: EntryID? = nil,
        payload: [String: Value] = [:], personal: [String: Value] = [:]
    ) throws -> EntryID {
        _ = try declaration(field, on: key, kind: .log)
        let entryID = id ?? EntryID(ReplicaID.random().description)
        try record(
            .append(
                field: field,
                entry: NewEntry(id: entryID, stamp: nextStamp(), kind: kind, payload: payload, personal: personal)),
            on: key)
        return entryID
    }

    /// Erases one log entry's personal members.
    public mutating func redactEntry(_ id: EntryID, in field: String, of key: RecordKey) throws {
        _ = try declaration(field, on: key, kind: .log)
        try record(.redactEntry(field: field, entry: id, stamp: nextStamp()), on: key)
    }

    /// Deletes a record.
    public mutating func delete(_ key: RecordKey) throws {
        try record(.delete(stamp: nextStamp()), on: key)
    }

    /// Erases a record's personal data.
    public mutating func redact(_ key: RecordKey) throws {
        try record(.redact(stamp: nextStamp()), on: key)
    }
}
