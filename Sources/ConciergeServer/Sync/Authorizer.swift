import ConciergeCore

/// Decides whether a principal may make a change set, record by record and change by change.
///
/// Pure: the store hands it each touched record as it was before the set and as it would be after,
/// and the owners of profiles and preferences. The first refusal names its code:
/// `outOfScope` (not the principal's record, provider or device), `forbiddenField` (a field or
/// entry kind the role may not write), `invalidTransition` (a status change its author may not make).
public struct Authorizer: Sendable {
    /// Case fields a customer or an integration may write when the case is created, and no later.
    static let creationFields: Set<String> = [
        CaseFields.provider, CaseFields.customer, CaseFields.subject, CaseFields.originChannel, CaseFields.category,
    ]
    /// Case fields a customer may write on their own case at any time.
    static let customerFields: Set<String> = [CaseFields.subject, CaseFields.rating]
    /// Timeline kinds a customer may append to their own case.
    static let customerEntryKinds: Set<String> = [
        EntryKind.message, EntryKind.appointmentAnswer, EntryKind.statusChange, EntryKind.channelSwitch,
    ]
    /// Timeline kinds a channel integration may append.
    static let integrationEntryKinds: Set<String> = [EntryKind.message, EntryKind.socialPost, EntryKind.channelSwitch]

    public init() {}

    /// - Parameters:
    ///   - before: the touched records as stored, `nil` for records the set creates.
    ///   - after: the touched records with the set applied.
    ///   - owner: the customer a profile or preferences record belongs to.
    public func authorize(
        _ set: ChangeSet, by principal: Principal, before: [RecordKey: ConciergeCore.Record],
        after: [RecordKey: ConciergeCore.Record],
        owner: (RecordKey) -> Principal?
    ) throws(SyncError) {
        guard set.author == principal.author else {
            throw SyncError(.outOfScope, "a change set must be authored by the principal that sends it")
        }
        for key in set.keys {
            let changes = set.changes.filter { $0.key == key }.map(\.change)
            let old = before[key]
            let new = after[key] ?? Record(key: key)
            switch key.type {
            case .serviceCase:
                try authorizeCase(changes, old: old, new: new, by: principal)
            case .profile, .preferences:
                try authorizeCustomerRecord(changes, key: key, owner: owner(key), by: principal)
            case .notice, .answer:
                try authorizeProviderRecord(changes, old: old, new: new, by: principal)
            default:
                throw SyncError(.unknownField, "unknown record type \"\(key.type)\"")
            }
        }
    }

    func authorizeCase(_ changes: [Change], old: Record?, new: Record, by principal: Principal) throws(SyncError) {
        let provider = (old ?? new).value(CaseFields.provider)?.stringValue
        guard provider == principal.provider.rawValue else {
            throw SyncError(
                .outOfScope,
                old == nil ? "a new case must name the author's provider" : "the case belongs to another provider")
        }
        if let old, Audience.of(old).isDisjoint(with: principal.tags) {
            throw SyncError(.outOfScope, "the case is not in the author's scope")
        }
        let customer = (old ?? new).value(CaseFields.customer)?.stringValue.map(PrincipalID.init)
        let isCreation = old == nil
        switch principal.role {
        case .customer:
            guard customer == principal.id else {
                throw SyncError(
                    .outOfScope,
                    isCreation ? "a customer opens cases for themselves only" : "not the customer's own case")
            }
        case .integration:
            break
        case let role where role.isStaff:
            break
        default:
            throw SyncError(.outOfScope, "role \(principal.role) may not change cases")
        }
        for change in changes {
            switch change {
            case .write(let field, _, _, _, _, _):
                let fixedOnceSet = field == CaseFields.provider || field == CaseFields.customer
                if fixedOnceSet && !isCreation {
                    throw SyncError(.forbiddenField, "\(field) cannot change once the case exists")
                }
                switch principal.role {
                case .customer:
                    guard Self.customerFields.contains(field) || (isCreation && Self.creationFields.contains(field))
                    else {
                        throw SyncError(.forbiddenField, "a customer may not write \(field)")
                    }
                case .integration:
                    guard isCreation && Self.creationFields.contains(field) else {
                        throw SyncError(.forbiddenField, "an integration may not write \(field)")
                    }
                default:
                    break
                }
            case .add(let field, _, _), .remove(let field, _, _, _):
                guard principal.role.isStaff else {
                    throw SyncError(.forbiddenField, "a \(principal.role) may not change \(field)")
                }
            case .append(_, let entry):
                try authorizeEntry(entry, by: principal, caseCustomer: customer)
            case .redactEntry:
                guard principal.role.isStaff else {
                    throw SyncError(.forbiddenField, "only staff erase single entries")
                }
            case .delete:
                guard principal.role == .supervisor else {
                    throw SyncError(.forbiddenField, "only supervisors delete cases")
                }
            case .redact:
                guard principal.role == .supervisor || principal.role == .customer else {
                    throw SyncError(.forbiddenField, "erasure is for the customer or a supervisor")
                }
            }
        }
    }

    func authorizeEntry(_ entry: NewEntry, by principal: Principal, caseCustomer: PrincipalID?) throws(SyncError) {
        switch principal.role {
        case .customer:
            guard Self.customerEntryKinds.contains(entry.kind) else {
                throw SyncError(.forbiddenField, "a customer may not add \(entry.kind) entries")
            }
            if entry.kind == EntryKind.message, entry.payload["direction"] != .string(MessageDirection.inbound) {
                throw SyncError(.forbiddenField, "a customer's messages are inbound")
            }
        case .integration:
            guard Self.integrationEntryKinds.contains(entry.kind) else {
                throw SyncError(.forbiddenField, "an integration may not add \(entry.kind) entries")
            }
        default:
            break
        }
        if entry.kind == EntryKind.statusChange {
            guard let from = entry.payload["from"]?.stringValue.flatMap(CaseStatus.init(rawValue:)),
                let to = entry.payload["to"]?.stringValue.flatMap(CaseStatus.init(rawValue:))
            else { throw SyncError(.invalidTransition, "a status change names a known from and to") }
            guard CaseStatus.isAllowed(from: from, to: to, by: principal.author, caseCustomer: caseCustomer) else {
                throw SyncError(.invalidTransition, "a \(principal.role) may not change a case from \(from) to \(to)")
            }
        }
    }

    func authorizeCustomerRecord(_ changes: [Change], key: RecordKey, owner: Principal?, by principal: Principal)
        throws(SyncError)
    {
        guard let owner, owner.role == .customer, owner.provider == principal.provider else {
            throw SyncError(.outOfScope, "\(key.type) of someone else")
        }
        guard principal.id == owner.id || principal.role == .supervisor else {
            throw SyncError(
                principal.role == .customer ? .outOfScope : .forbiddenField, "only the customer edits their \(key.type)"
            )
        }
        for change in changes {
            switch change {
            case .write(CaseFields.provider, _, _, _, _, _):
                throw SyncError(.forbiddenField, "the provider of a \(key.type) is fixed")
            case .delete:
                throw SyncError(.forbiddenField, "a \(key.type) is not deleted; it is erased")
            default:
                break
            }
        }
    }

    func authorizeProviderRecord(_ changes: [Change], old: Record?, new: Record, by principal: Principal)
        throws(SyncError)
    {
        guard (old ?? new).value(CaseFields.provider)?.stringValue == principal.provider.rawValue else {
            throw SyncError(.outOfScope, "not the author's provider")
        }
        guard principal.role == .agent || principal.role == .supervisor || principal.role == .specialist else {
            throw SyncError(.forbiddenField, "a \(principal.role) may not publish")
        }
        if old != nil,
            changes.contains(where: { if case .write(CaseFields.provider, _, _, _, _, _) = $0 { true } else { false } })
        {
            throw SyncError(.forbiddenField, "the provider cannot change")
        }
    }
}
