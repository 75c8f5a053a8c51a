import ConciergeCore

/// A staff member's directory entry (`staff`, id: their principal id): the provider's staff read
/// it (an offline supervisor sees the directory); supervisors write it; the member sets their own
/// availability. Its id names a staff principal of the provider, whose role it repeats.
struct StaffPolicy: RecordPolicy {
    let type = RecordType.staff
    let audienceFields: Set<String> = [StaffFields.provider]

    /// The provider's supervisors (and integrations), its agents and specialists, and the member.
    func audience(of record: Record, owner: Principal?) -> Set<String> {
        guard let provider = record.value(StaffFields.provider)?.stringValue.map(ProviderID.init) else { return [] }
        return [
            Audience.provider(provider), Audience.unrouted(provider),
            Audience.principal(PrincipalID(record.id.rawValue)),
        ]
    }

    func relatedPrincipals(_ write: RecordWrite) -> [PrincipalID] { [PrincipalID(write.key.id.rawValue)] }

    func authorize(_ write: RecordWrite) throws(SyncError) {
        let principal = write.principal
        guard principal.role.isStaff else {
            throw SyncError(.outOfScope, "the staff directory is for the provider's staff")
        }
        guard write.current.value(StaffFields.provider)?.stringValue == principal.provider.rawValue
        else {
            throw SyncError(
                write.isCreation ? .malformed : .outOfScope,
                write.isCreation
                    ? "a new directory entry names the author's provider" : "the entry belongs to another provider")
        }
        let memberID = PrincipalID(write.key.id.rawValue)
        guard let member = write.principals[memberID], member.role.isStaff, member.provider == principal.provider
        else { throw SyncError(.outOfScope, "no staff member \(memberID) at this provider") }
        let isSelf = principal.id == memberID
        for change in write.changes {
            guard principal.role == .supervisor || (isSelf && change.field == StaffFields.availability) else {
                throw SyncError(
                    .forbiddenField,
                    isSelf
                        ? "staff set their own availability; a supervisor changes the rest"
                        : "supervisors manage the staff directory")
            }
            switch change {
            case .write(StaffFields.provider, _, _, _, _, _) where !write.isCreation:
                throw SyncError(.forbiddenField, "the provider of a directory entry is fixed")
            case .write(let field, let value, _, _, _, _):
                try Self.check(value, of: field, member: member)
            case .redact, .redactEntry:
                throw SyncError(.forbiddenField, "a directory entry is changed or deleted, not erased")
            default:
                break
            }
        }
    }

    /// A written value is of the field's shape: a known availability, the member's own role, a
    /// capacity of counts per known channel.
    static func check(_ value: Value, of field: String, member: Principal) throws(SyncError) {
        switch field {
        case StaffFields.availability:
            guard let text = value.stringValue, Availability(rawValue: text) != nil else {
                throw SyncError(
                    .malformed,
                    "availability is one of \(Availability.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        case StaffFields.role:
            guard value.stringValue == member.role.rawValue else {
                throw SyncError(.malformed, "\(member.id) is \(member.role.withArticle); the directory says so")
            }
        case StaffFields.capacity:
            let valid = value.objectValue?.allSatisfy { channel, count in
                (channel == Capacity.anyChannel || Channel.all.contains(Channel(channel)))
                    && (count.intValue ?? -1) >= 0
            }
            guard valid == true else {
                throw SyncError(.malformed, "capacity maps known channels (or *) to counts of 0 or more")
            }
        case StaffFields.displayName, StaffFields.homeRegion, StaffFields.provider:
            guard value.stringValue != nil else { throw SyncError(.malformed, "\(field) is text") }
        default:
            break
        }
    }
}

/// A staff member's workload (`workload`, id: their principal id): kept by the server's routing
/// (``RoutingReaction``) and read by the provider's supervisors; nobody else writes it.
struct WorkloadPolicy: RecordPolicy {
    let type = RecordType.workload
    let audienceFields: Set<String> = [WorkloadFields.provider]

    func audience(of record: Record, owner: Principal?) -> Set<String> {
        guard let provider = record.value(WorkloadFields.provider)?.stringValue.map(ProviderID.init) else {
            return []
        }
        return [Audience.provider(provider)]
    }

    func authorize(_ write: RecordWrite) throws(SyncError) {
        throw SyncError(.forbiddenField, "workloads are kept by the server's routing")
    }
}

/// A customer's continuity record (`continuity`, id: the customer's id): who worked on their
/// cases and when, kept by the server's routing and read by the provider's staff (who else knows
/// this customer); nobody else writes it.
struct ContinuityPolicy: RecordPolicy {
    let type = RecordType.continuity
    let audienceFields: Set<String> = [ContinuityFields.provider]

    func audience(of record: Record, owner: Principal?) -> Set<String> {
        guard let provider = record.value(ContinuityFields.provider)?.stringValue.map(ProviderID.init) else {
            return []
        }
        return [Audience.provider(provider), Audience.unrouted(provider)]
    }

    func authorize(_ write: RecordWrite) throws(SyncError) {
        throw SyncError(.forbiddenField, "continuity is kept by the server's routing")
    }
}

/// A provider's routing record (`routing`, id: the provider id): its staff read it; supervisors
/// write the table (which skill a category needs, the widening time); the roster and the waiting
/// list are the server's.
struct RoutingPolicy: RecordPolicy {
    let type = RecordType.routing
    let audienceFields: Set<String> = []
    static let supervisorFields: Set<String> = [
        RoutingFields.skillByCategory, RoutingFields.wideningMinutes, RoutingFields.urgentInQuietHours,
    ]

    func audience(of record: Record, owner: Principal?) -> Set<String> {
        let provider = ProviderID(record.id.rawValue)
        return [Audience.provider(provider), Audience.unrouted(provider)]
    }

    func authorize(_ write: RecordWrite) throws(SyncError) {
        guard write.key.id.rawValue == write.principal.provider.rawValue else {
            throw SyncError(.outOfScope, "the routing table of another provider")
        }
        guard write.principal.role == .supervisor else {
            throw SyncError(.forbiddenField, "supervisors manage the routing table")
        }
        for change in write.changes {
            guard case .write(let field, let value, _, _, _, _) = change, Self.supervisorFields.contains(field) else {
                throw SyncError(
                    .forbiddenField,
                    "supervisors write skillByCategory, wideningMinutes and urgentInQuietHours; the server keeps the rest"
                )
            }
            switch field {
            case RoutingFields.urgentInQuietHours:
                guard value.boolValue != nil else { throw SyncError(.malformed, "urgentInQuietHours is true or false") }
            case RoutingFields.skillByCategory:
                guard value.objectValue?.values.allSatisfy({ $0.stringValue != nil }) == true else {
                    throw SyncError(.malformed, "skillByCategory maps categories to skills")
                }
            default:
                guard value.isNull || (value.intValue ?? -1) >= 0 else {
                    throw SyncError(.malformed, "wideningMinutes is a number of minutes, 0 or more, or null")
                }
            }
        }
    }
}
