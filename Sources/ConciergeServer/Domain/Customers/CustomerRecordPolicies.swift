import ConciergeCore

/// The rules shared by the records a customer owns (id: the customer's principal id): the customer
/// and the provider's staff read them; only the customer (or a supervisor) writes them; their
/// provider is fixed and they are erased, never deleted.
protocol CustomerOwnedPolicy: RecordPolicy {}

extension CustomerOwnedPolicy {
    var isOwnedByItsID: Bool { true }
    /// A profile names its provider too; the owner's provider comes first.
    var audienceFields: Set<String> { [ProfileFields.provider] }

    func audience(of record: Record, owner: Principal?) -> Set<String> {
        guard let provider = owner?.provider ?? record.value(ProfileFields.provider)?.stringValue.map(ProviderID.init)
        else { return [] }
        return [
            Audience.provider(provider), Audience.customer(PrincipalID(record.id.rawValue)),
            Audience.unrouted(provider),
        ]
    }

    func authorize(_ write: RecordWrite) throws(SyncError) { try authorizeOwned(write) }

    /// The rules every record a customer owns shares.
    func authorizeOwned(_ write: RecordWrite) throws(SyncError) {
        let (key, principal) = (write.key, write.principal)
        guard let owner = write.owner, owner.role == .customer, owner.provider == principal.provider else {
            throw SyncError(.outOfScope, "\(key.type) of someone else")
        }
        // Staff merge a customer into another (or undo it), and write nothing else of the profile.
        if write.changes.contains(where: { $0.field == MergeFields.mergedInto }) {
            guard write.changes.allSatisfy({ $0.field == MergeFields.mergedInto }) else {
                throw SyncError(.forbiddenField, "a merge of customers changes nothing else of the \(key.type)")
            }
            return try MergeChecks.authorizeCustomerMerge(write)
        }
        // A channel integration creates the profile of a customer it took a contact in from (a
        // new, unverified customer: ContactIntake), and writes nothing of it afterwards.
        if principal.role == .integration, key.type == .profile {
            guard write.isCreation,
                write.changes.allSatisfy({
                    if case .write(let field, _, _, _, _, _) = $0 { return ProfilePolicy.intakeFields.contains(field) }
                    return false
                })
            else { throw SyncError(.forbiddenField, "an integration only creates a new customer's profile") }
            return
        }
        guard principal.id == owner.id || principal.role == .supervisor else {
            throw SyncError(
                principal.role == .customer ? .outOfScope : .forbiddenField, "only the customer edits their \(key.type)"
            )
        }
        for change in write.changes {
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
}

/// A customer's profile (`profile`): names and contact details, and where staff merged the customer.
struct ProfilePolicy: CustomerOwnedPolicy {
    let type = RecordType.profile

    var internalValueMembers: [String: Set<String>] { MergeChecks.internalValueMembers }

    /// A merge reads the customer it merges into.
    func relatedPrincipals(_ write: RecordWrite) -> [PrincipalID] {
        MergeChecks.target(of: write).map { [PrincipalID($0.into.rawValue)] } ?? []
    }
    /// The fields a channel integration writes when it creates a new customer's profile.
    static let intakeFields: Set<String> = [
        ProfileFields.displayName, ProfileFields.email, ProfileFields.phone,
    ]
}

/// A customer's contact preferences (`preferences`): the channels, purposes and hours a proactive
/// contact must respect (``CasePolicy`` reads them for every outbound message).
struct PreferencesPolicy: CustomerOwnedPolicy {
    let type = RecordType.preferences

    /// A consent entry must describe what the set does to the `consents` set: given, the set holds
    /// its element afterwards; withdrawn, it holds neither its element nor the purpose alone.
    static func disagreement(_ entry: NewEntry, _ write: RecordWrite) -> String? {
        guard let consent = ConsentEntry(payload: entry.payload) else { return nil }
        let after = write.after.set(PreferenceFields.consents)
        let holds = after?.contains(consent.element) == true
        if consent.given ? !holds : (holds || after?.contains(consent.purpose) == true) {
            return "a consent entry comes with the change to consents it records (\(consent.element))"
        }
        return nil
    }

    /// As every record a customer owns, and each value of its shape (``PreferenceRules``): known
    /// channels and purposes, quiet hours that are a time range, an IANA time zone; each consent
    /// entry with its purpose, legal basis, how and when (``ConsentEntry``).
    func authorize(_ write: RecordWrite) throws(SyncError) {
        try authorizeOwned(write)
        for change in write.changes {
            let problem: String?
            switch change {
            case .write(let field, let value, _, _, _, _): problem = PreferenceRules.problem(writing: value, to: field)
            case .add(let field, let element, _): problem = PreferenceRules.problem(adding: element, to: field)
            case .append(PreferenceFields.consentLog, let entry):
                problem =
                    ConsentEntry.problem(kind: entry.kind, payload: entry.payload) ?? Self.disagreement(entry, write)
            default: problem = nil
            }
            if let problem { throw SyncError(.malformed, problem) }
        }
    }
}
