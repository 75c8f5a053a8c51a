/// The declared fields of one record type.
public struct RecordSchema: Hashable, Sendable {
    public var type: RecordType
    public var fields: [String: FieldDeclaration]

    public init(type: RecordType, fields: [String: FieldDeclaration]) {
        self.type = type
        self.fields = fields
    }
}

/// The record types and fields a schema version knows.
///
/// The server refuses types and fields it does not know (it cannot authorize them); clients keep
/// unknown fields and merge them by the kind their encoding declares.
public struct Schema: Hashable, Sendable {
    public var version: Int
    public var records: [RecordType: RecordSchema]

    public init(version: Int, records: [RecordSchema]) {
        self.version = version
        self.records = Dictionary(uniqueKeysWithValues: records.map { ($0.type, $0) })
    }

    /// The declaration of `field` on `type`, `nil` when unknown.
    public func declaration(of field: String, on type: RecordType) -> FieldDeclaration? {
        records[type]?.fields[field]
    }

    /// Checks that every change names a known type and field, with the declared kind, history and
    /// personal flags.
    /// - Throws: ``SyncError`` `unknownField` naming the first offender.
    public func validate(_ set: ChangeSet) throws(SyncError) {
        for change in set.changes {
            guard let record = records[change.key.type] else {
                throw SyncError(.unknownField, "unknown record type \"\(change.key.type)\"")
            }
            guard let name = change.change.field else { continue }
            guard let declaration = record.fields[name] else {
                throw SyncError(.unknownField, "unknown field \"\(name)\" on \(change.key.type)")
            }
            let matches: Bool
            switch change.change {
            case .write(_, _, _, _, let history, let personal):
                matches =
                    declaration.kind == .register && declaration.history == history && declaration.personal == personal
            case .add, .remove:
                matches = declaration.kind == .set
            case .append, .redactEntry:
                matches = declaration.kind == .log
            case .delete, .redact:
                matches = true
            }
            guard matches else {
                throw SyncError(.unknownField, "field \"\(name)\" on \(change.key.type) is not declared that way")
            }
        }
    }
}

extension Schema {
    /// The schema this build of the core writes.
    public static let current = Schema(
        version: 1,
        records: [
            CaseFields.schema, ProfileFields.schema, PreferenceFields.schema, NoticeFields.schema, AnswerFields.schema,
            StaffFields.schema, WorkloadFields.schema, RoutingFields.schema, ContinuityFields.schema,
        ])
}

/// Brings a change set written against an older schema up to the current one. Pure: the server runs
/// the steps before authorization, so an old app's queued offline work still applies.
public struct UpgradeStep: Sendable {
    /// The version this step upgrades from; it produces `from + 1`.
    public var from: Int
    public var upgrade: @Sendable (ChangeSet) throws(SyncError) -> ChangeSet

    public init(from: Int, upgrade: @escaping @Sendable (ChangeSet) throws(SyncError) -> ChangeSet) {
        self.from = from
        self.upgrade = upgrade
    }
}

/// The chain of upgrade steps, keyed by the version they start from.
public struct Upgrader: Sendable {
    public var minimumVersion: Int
    public var currentVersion: Int
    public var steps: [Int: UpgradeStep]

    /// - Parameters:
    ///   - minimumVersion: the oldest version still accepted; older sets get `upgradeRequired`.
    ///   - currentVersion: the version of the schema in force; newer sets get `unsupportedVersion`.
    public init(minimumVersion: Int, currentVersion: Int, steps: [UpgradeStep] = []) {
        self.minimumVersion = minimumVersion
        self.currentVersion = currentVersion
        self.steps = Dictionary(uniqueKeysWithValues: steps.map { ($0.from, $0) })
    }

    /// The upgrader of this build: version 1 is the first, so there are no steps yet.
    public static let current = Upgrader(minimumVersion: 1, currentVersion: Schema.current.version)

    /// The set brought to `currentVersion`.
    /// - Throws: `unsupportedVersion` (retryable) for a set newer than the server, `upgradeRequired`
    ///   for one older than the minimum or with a missing step.
    public func upgrade(_ set: ChangeSet) throws(SyncError) -> ChangeSet {
        if set.schemaVersion > currentVersion {
            throw SyncError(
                .unsupportedVersion, "schema version \(set.schemaVersion) is newer than this server's \(currentVersion)"
            )
        }
        guard set.schemaVersion >= minimumVersion else {
            throw SyncError(
                .upgradeRequired, "schema version \(set.schemaVersion) is below the minimum \(minimumVersion)")
        }
        var upgraded = set
        while upgraded.schemaVersion < currentVersion {
            guard let step = steps[upgraded.schemaVersion] else {
                throw SyncError(.upgradeRequired, "no upgrade from schema version \(upgraded.schemaVersion)")
            }
            upgraded = try step.upgrade(upgraded)
            upgraded.schemaVersion = step.from + 1
        }
        return upgraded
    }
}
