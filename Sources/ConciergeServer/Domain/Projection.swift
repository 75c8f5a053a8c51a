import ConciergeCore

/// What a principal may read of a record or a change set: customers never see the entry kinds a
/// record's policy calls internal (``RecordPolicy/internalEntryKinds``, the internal notes).
public enum Projection {
    /// Whether `principal` reads the internal parts of records (internal notes).
    static func seesInternal(_ principal: Principal) -> Bool {
        principal.role.isStaff
    }

    /// The record as `principal` may see it, by the standard rules.
    public static func record(_ record: ConciergeCore.Record, for principal: Principal) -> ConciergeCore.Record {
        DomainRules.standard.project(record, for: principal)
    }

    /// Whether a principal who does not see internal parts sees less than the whole record.
    static func hidesInternal(_ record: ConciergeCore.Record) -> Bool {
        let rules = DomainRules.standard
        return !rules.hiddenEntries(of: record).isEmpty || rules.hidesValueMembers(of: record)
            || rules.hidesEntryMembers(of: record)
    }

    /// The changes of `set` on the records in `keys` as `principal` may see them, or `nil` when
    /// nothing is left.
    /// - Parameter isInternal: whether an entry id names an internal entry (for erasures of entries).
    public static func changeSet(
        _ set: ChangeSet, for principal: Principal, keys: Set<RecordKey>, isInternal: (RecordKey, EntryID) -> Bool
    ) -> ChangeSet? {
        DomainRules.standard.project(set, for: principal, keys: keys, isInternal: isInternal)
    }
}

extension DomainRules {
    /// Whether an entry of `kind` on a record of `type` is one only staff see.
    func isInternal(kind: String, of type: RecordType) -> Bool {
        policies[type]?.internalEntryKinds.values.contains { $0.contains(kind) } ?? false
    }

    /// The entries of a record that only staff see.
    func hiddenEntries(of record: Record) -> Set<EntryID> {
        guard let kinds = policies[record.type]?.internalEntryKinds, !kinds.isEmpty else { return [] }
        var hidden: Set<EntryID> = []
        for (field, internalKinds) in kinds {
            guard let log = record.log(field) else { continue }
            for entry in log.entries.values where internalKinds.contains(entry.kind) { hidden.insert(entry.id) }
        }
        return hidden
    }

    /// Whether a register value of the record holds a member a customer never sees.
    func hidesValueMembers(of record: Record) -> Bool {
        guard let members = policies[record.type]?.internalValueMembers else { return false }
        return members.contains { field, hidden in
            record.register(field)?.writes.contains { write in
                write.value.objectValue?.keys.contains(where: hidden.contains) == true
            } == true
        }
    }

    /// Whether an entry of the record holds a member a customer never sees.
    func hidesEntryMembers(of record: Record) -> Bool {
        guard let members = policies[record.type]?.internalEntryMembers else { return false }
        return members.contains { field, byKind in
            record.log(field)?.entries.values.contains { entry in
                byKind[entry.kind].map { hidden in
                    hidden.contains { entry.payload[$0] != nil || entry.personal[$0] != nil }
                } ?? false
            } == true
        }
    }

    /// `entry` without the members a customer never sees (`payload`, `personal`: its members).
    func customerEntry(
        kind: String, payload: [String: Value], personal: [String: Value], in field: String, on type: RecordType
    ) -> (payload: [String: Value], personal: [String: Value])? {
        guard let hidden = policies[type]?.internalEntryMembers[field]?[kind],
            hidden.contains(where: { payload[$0] != nil || personal[$0] != nil })
        else { return nil }
        return (payload.filter { !hidden.contains($0.key) }, personal.filter { !hidden.contains($0.key) })
    }

    /// `value` without the members of `field` a customer never sees.
    func customerValue(_ value: Value, of field: String, on type: RecordType) -> Value {
        guard let hidden = policies[type]?.internalValueMembers[field], case .object(let members) = value else {
            return value
        }
        return .object(members.filter { !hidden.contains($0.key) })
    }

    /// The record as `principal` may see it.
    func project(_ record: Record, for principal: Principal) -> Record {
        guard !Projection.seesInternal(principal) else { return record }
        let hidden = hiddenEntries(of: record)
        let hidesMembers = hidesEntryMembers(of: record)
        guard !hidden.isEmpty || hidesValueMembers(of: record) || hidesMembers else { return record }
        var fields = record.fields
        for (name, field) in record.fields {
            switch field.state {
            case .log(let log) where !hidden.isEmpty || hidesMembers:
                var entries = log.entries.filter { !hidden.contains($0.key) }
                for (id, entry) in entries {
                    guard
                        let kept = customerEntry(
                            kind: entry.kind, payload: entry.payload, personal: entry.personal, in: name,
                            on: record.type)
                    else { continue }
                    entries[id]?.payload = kept.payload
                    entries[id]?.personal = kept.personal
                }
                fields[name] = Field(
                    state: .log(
                        LogState(entries: entries, redactions: log.redactions.filter { !hidden.contains($0.key) }))
                )
            case .register(let register) where policies[record.type]?.internalValueMembers[name] != nil:
                let writes = register.writes.map { write in
                    var write = write
                    write.value = customerValue(write.value, of: name, on: record.type)
                    return write
                }
                var projected = RegisterState(writes[0], keepsHistory: register.keepsHistory)
                // Distinct stamps, as stored: merging them back cannot fail.
                for write in writes.dropFirst() { try? projected.merge(write) }
                fields[name] = Field(personal: field.personal, state: .register(projected))
            default:
                break
            }
        }
        return Record(key: record.key, fields: fields, deleted: record.deleted, redacted: record.redacted)
    }

    /// The changes of `set` on the records in `keys` as `principal` may see them, or `nil` when
    /// nothing is left.
    func project(
        _ set: ChangeSet, for principal: Principal, keys: Set<RecordKey>, isInternal: (RecordKey, EntryID) -> Bool
    ) -> ChangeSet? {
        var projected = set
        let customerView = !Projection.seesInternal(principal)
        // One pass: staff get the changes on records in `keys` as they are; a customer without
        // internal entries, and with staff-only members left out of register values.
        projected.changes = set.changes.compactMap { change in
            guard keys.contains(change.key) else { return nil }
            guard customerView else { return change }
            switch change.change {
            case .append(let field, var entry):
                if policies[change.key.type]?.internalEntryKinds[field]?.contains(entry.kind) == true { return nil }
                guard
                    let kept = customerEntry(
                        kind: entry.kind, payload: entry.payload, personal: entry.personal, in: field,
                        on: change.key.type)
                else { return change }
                (entry.payload, entry.personal) = kept
                return RecordChange(change.key, .append(field: field, entry: entry))
            case .redactEntry(_, let entry, _):
                return isInternal(change.key, entry) ? nil : change
            case .write(let field, let value, let base, let stamp, let history, let personal)
            where policies[change.key.type]?.internalValueMembers[field] != nil:
                return RecordChange(
                    change.key,
                    .write(
                        field: field, value: customerValue(value, of: field, on: change.key.type), base: base,
                        stamp: stamp, history: history, personal: personal))
            default:
                return change
            }
        }
        return projected.changes.isEmpty ? nil : projected
    }
}
