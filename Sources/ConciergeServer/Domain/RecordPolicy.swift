import ConciergeCore

/// The rules of one record type: who reads it, who may write what, what a customer never sees, and
/// what a check must read of the stored record. The server keeps one per type in ``DomainRules``;
/// push and pull ask the registry, and nothing else switches on record types.
///
/// A new record type is a folder under `Domain/` with its policy (and its reactions), and one line
/// in ``DomainRules/standard`` (`docs/architecture.md` walks through it).
protocol RecordPolicy: Sendable {
    /// The record type this policy rules.
    var type: RecordType { get }

    /// The fields ``audience(of:owner:)`` reads: a change to no other field (and not to the record
    /// as a whole) leaves the record's audience as it was, so the push skips working it out again.
    var audienceFields: Set<String> { get }

    /// Whether the record belongs to the principal its id names (a customer's profile): the push
    /// and the pull look that principal up and hand it to the policy as the owner.
    var isOwnedByItsID: Bool { get }

    /// Who may read the record's current state, as tags (``Audience``); empty when nobody yet
    /// (no provider). Reads only ``audienceFields``.
    func audience(of record: Record, owner: Principal?) -> Set<String>

    /// Entry kinds a customer never sees (internal notes), by log field.
    var internalEntryKinds: [String: Set<String>] { get }

    /// Members of register values (objects) a customer never sees, by field: why staff merged a
    /// record (`mergedInto`'s `reason`).
    var internalValueMembers: [String: Set<String>] { get }

    /// Members of entries (payload or personal) a customer never sees, by log field and entry
    /// kind: why staff handed a case on.
    var internalEntryMembers: [String: [String: Set<String>]] { get }

    /// What the checks of ``authorize(_:)`` read of the stored record beyond the fields and the
    /// entries the changes name: whole kinds of entries of a log field (the status changes, say).
    func reads(_ changes: [Change]) -> EntryReads

    /// Other records the checks of ``authorize(_:)`` read (the case's customer's preferences, say),
    /// given the record with the changes applied.
    func related(_ write: RecordWrite) -> [RecordKey]

    /// Principals the checks of ``authorize(_:)`` read (the customer a profile merges into).
    func relatedPrincipals(_ write: RecordWrite) -> [PrincipalID]

    /// Whether the principal may make these changes to the record.
    /// - Throws: ``SyncError`` naming the first refusal (`outOfScope`, `forbiddenField`,
    ///   `invalidTransition`, `contactNotAllowed`).
    func authorize(_ write: RecordWrite) throws(SyncError)
}

extension RecordPolicy {
    var isOwnedByItsID: Bool { false }
    var internalEntryKinds: [String: Set<String>] { [:] }
    var internalValueMembers: [String: Set<String>] { [:] }
    var internalEntryMembers: [String: [String: Set<String>]] { [:] }
    func reads(_ changes: [Change]) -> EntryReads { EntryReads() }
    func related(_ write: RecordWrite) -> [RecordKey] { [] }
    func relatedPrincipals(_ write: RecordWrite) -> [PrincipalID] { [] }
}

/// Whole kinds of entries a check reads, by log field.
struct EntryReads: Hashable, Sendable {
    var kinds: [String: Set<String>] = [:]

    init(kinds: [String: Set<String>] = [:]) { self.kinds = kinds }
}

/// A record as a push check reads it: every field and marker, but of its logs only the entries the
/// check asked for (the entries its changes name, and the kinds its policy ``RecordPolicy/reads(_:)``).
/// Reading any other entry is a programming error, caught by a precondition: a check never sees
/// part of a timeline while believing it sees the whole.
struct LoadedRecord: Sendable {
    /// The record with the entries read; the fields are whole, the logs are not.
    let partial: Record
    /// Which entries were read.
    let coverage: RecordRows.Need

    init(_ partial: Record, coverage: RecordRows.Need) {
        self.partial = partial
        self.coverage = coverage
    }

    var key: RecordKey { partial.key }
    func value(_ field: String) -> Value? { partial.value(field) }
    func set(_ field: String) -> ORSetState? { partial.set(field) }
    var isDeleted: Bool { partial.isDeleted }

    /// Whether every entry of `kind` in the log `field` was read.
    func hasRead(kind: String, in field: String) -> Bool {
        coverage.everything || coverage.kinds[field]?.contains(kind) == true
    }

    /// Every entry of `kind` in the log `field`, in timeline order. The policy must have asked for
    /// the kind (``RecordPolicy/reads(_:)``).
    func entries(_ kind: String, in field: String) -> [LogEntry] {
        precondition(hasRead(kind: kind, in: field), "\(key): \(kind) entries of \(field) were not read for the check")
        return (partial.log(field)?.ordered ?? []).filter { $0.kind == kind }
    }

    /// The entry `id` of the log `field`, when the changes named it (or it is of a kind read whole).
    func entry(_ id: EntryID, in field: String) -> LogEntry? {
        guard let entry = partial.log(field)?.entries[id] else { return nil }
        precondition(
            coverage.everything || coverage.entries[field]?.contains(id) == true
                || hasRead(kind: entry.kind, in: field),
            "\(key): entry \(id) of \(field) was not read for the check")
        return entry
    }
}

/// One record's changes in one change set, as a policy checks them.
struct RecordWrite: Sendable {
    var key: RecordKey
    var changes: [Change]
    var principal: Principal
    /// The record as stored before the set; `nil` when the set creates it.
    var before: LoadedRecord?
    /// The record with the set's changes applied.
    var after: LoadedRecord
    /// The principal the record belongs to (``RecordPolicy/isOwnedByItsID``).
    var owner: Principal?
    /// The records ``RecordPolicy/related(_:)`` asked for, as stored (absent: none).
    var related: [RecordKey: Record]
    /// The principals ``RecordPolicy/relatedPrincipals(_:)`` asked for (absent: no such principal).
    var principals: [PrincipalID: Principal] = [:]
    /// The server's clock when it checks the set, in milliseconds since 1970.
    var serverMillis: UInt64

    /// Whether the set creates the record.
    var isCreation: Bool { before == nil }
    /// The record as the check reads its fields: before the set when it existed, else after.
    var current: LoadedRecord { before ?? after }

    /// The entries the set appends, with their log field.
    var appended: [(field: String, entry: NewEntry)] {
        changes.compactMap { change in
            guard case .append(let field, let entry) = change else { return nil }
            return (field, entry)
        }
    }
}

/// The registry of record policies and reactions the server runs: passed to the push (in
/// ``PushPolicy``) and read by the pull.
struct DomainRules: Sendable {
    let policies: [RecordType: any RecordPolicy]
    let reactions: [any Reaction]

    init(policies: [any RecordPolicy], reactions: [any Reaction]) {
        self.policies = Dictionary(uniqueKeysWithValues: policies.map { ($0.type, $0) })
        self.reactions = reactions
    }

    /// The service domain's rules.
    static let standard = DomainRules(
        policies: [
            CasePolicy(), ProfilePolicy(), PreferencesPolicy(), PublishedRecordPolicy(type: .notice),
            PublishedRecordPolicy(type: .answer), StaffPolicy(), WorkloadPolicy(), RoutingPolicy(),
            ContinuityPolicy(),
        ],
        reactions: [FollowUpReaction(), RoutingReaction(), SolvedVisitReaction()])

    /// The policy of `type`, `nil` for a type the server does not know.
    func policy(_ type: RecordType) -> (any RecordPolicy)? { policies[type] }

    /// Whether a record of `key`'s type belongs to the principal its id names.
    func isOwnedByItsID(_ key: RecordKey) -> Bool { policies[key.type]?.isOwnedByItsID ?? false }

    /// The audience of a record's current state (see ``RecordPolicy/audience(of:owner:)``).
    func audience(of record: Record, owner: Principal? = nil) -> Set<String> {
        policies[record.type]?.audience(of: record, owner: owner) ?? []
    }

    /// Whether these changes may move the record's audience: they change a field it reads, or the
    /// record as a whole.
    func movesAudience(_ key: RecordKey, _ changes: [Change]) -> Bool {
        let fields = policies[key.type]?.audienceFields ?? []
        return changes.contains { change in change.field.map(fields.contains) ?? true }
    }

    /// What a push must read of the stored record for these changes: the entries they name, and
    /// what the policy's checks read.
    func need(_ key: RecordKey, _ changes: [Change]) -> RecordRows.Need {
        var need = RecordRows.Need(changes)
        if let reads = policies[key.type]?.reads(changes) {
            need.kinds.merge(reads.kinds) { $0.union($1) }
        }
        return need
    }
}
