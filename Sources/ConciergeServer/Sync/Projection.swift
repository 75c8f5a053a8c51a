import ConciergeCore

/// What a principal may read of a record or a change set: customers never see internal entries.
public enum Projection {
    /// Whether `principal` reads the internal parts of records (internal notes).
    static func seesInternal(_ principal: Principal) -> Bool {
        principal.role.isStaff
    }

    /// The record as `principal` may see it.
    public static func record(_ record: ConciergeCore.Record, for principal: Principal) -> ConciergeCore.Record {
        guard !seesInternal(principal) else { return record }
        let hidden = hiddenEntries(of: record)
        guard !hidden.isEmpty, let log = record.log(CaseFields.timeline) else { return record }
        var fields = record.fields
        fields[CaseFields.timeline] = Field(
            state: .log(
                LogState(
                    entries: log.entries.filter { !hidden.contains($0.key) },
                    redactions: log.redactions.filter { !hidden.contains($0.key) })))
        return Record(key: record.key, fields: fields, deleted: record.deleted, redacted: record.redacted)
    }

    /// Whether a principal who does not see internal parts sees less than the whole record.
    static func hidesInternal(_ record: ConciergeCore.Record) -> Bool {
        !hiddenEntries(of: record).isEmpty
    }

    /// The timeline entries of a case that only staff see.
    static func hiddenEntries(of record: ConciergeCore.Record) -> Set<EntryID> {
        guard record.type == .serviceCase, let log = record.log(CaseFields.timeline) else { return [] }
        return Set(log.entries.values.filter { EntryKind.internalKinds.contains($0.kind) }.map(\.id))
    }

    /// The changes of `set` on the records in `keys` as `principal` may see them, or `nil` when
    /// nothing is left.
    /// - Parameter isInternal: whether an entry id names an internal entry (for erasures of entries).
    public static func changeSet(
        _ set: ChangeSet, for principal: Principal, keys: Set<RecordKey>, isInternal: (RecordKey, EntryID) -> Bool
    ) -> ChangeSet? {
        var projected = set
        let customerView = !seesInternal(principal)
        projected.changes = set.changes.filter { change in
            guard keys.contains(change.key) else { return false }
            guard customerView else { return true }
            switch change.change {
            case .append(_, let entry): return !EntryKind.internalKinds.contains(entry.kind)
            case .redactEntry(_, let entry, _): return !isInternal(change.key, entry)
            default: return true
            }
        }
        return projected.changes.isEmpty ? nil : projected
    }
}
