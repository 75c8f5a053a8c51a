import ConciergeCore

/// Who may read a record, as tags: a principal reads every record whose audience shares a tag
/// with its own (``Principal/tags``).
///
/// - A case: its customer (`customer:<id>`), its assignee (`principal:<id>`), the provider's
///   supervisors and integrations (`provider:<id>`), and the agents of its required skill or
///   queue (`skill:<provider>:<skill>`, `queue:<provider>:<queue>`), or every agent of the provider
///   when it names neither (`unrouted:<provider>`).
/// - A customer's profile and preferences: the customer and the provider's staff.
/// - Notices and public answers: everybody at the provider (`everyone:<provider>`).
public enum Audience {
    static func customer(_ id: PrincipalID) -> String { "customer:\(id)" }
    static func principal(_ id: PrincipalID) -> String { "principal:\(id)" }
    static func provider(_ id: ProviderID) -> String { "provider:\(id)" }
    static func providerWide(_ id: ProviderID) -> String { "everyone:\(id)" }
    static func unrouted(_ id: ProviderID) -> String { "unrouted:\(id)" }
    static func skill(_ provider: ProviderID, _ skill: String) -> String { "skill:\(provider):\(skill)" }
    static func queue(_ provider: ProviderID, _ queue: String) -> String { "queue:\(provider):\(queue)" }

    /// The fields ``of(_:owner:)`` reads: a change to no other field (and not to the record as a
    /// whole) leaves a record's audience as it was.
    static let fields: Set<String> = [
        CaseFields.provider, CaseFields.customer, CaseFields.assignee, CaseFields.requiredSkill, CaseFields.queue,
    ]

    /// The audience of a record's current state; empty when it has no provider yet.
    /// - Parameter owner: for profiles and preferences, the customer they belong to.
    public static func of(_ record: ConciergeCore.Record, owner: Principal? = nil) -> Set<String> {
        // Every field read here must be in `fields`: the push skips the audience before a set that
        // touches none of them, and would miss its enter and leave events otherwise (tests run
        // with assertions on).
        func text(_ field: String) -> String? {
            assert(fields.contains(field), "Audience.fields must list \(field), which Audience.of reads")
            return record.value(field)?.stringValue
        }
        let named = text(CaseFields.provider).map(ProviderID.init)
        guard let provider = owner?.provider ?? named else { return [] }
        var tags: Set<String> = [self.provider(provider)]
        switch record.type {
        case .serviceCase:
            if let customer = text(CaseFields.customer) {
                tags.insert(self.customer(PrincipalID(customer)))
            }
            if let assignee = text(CaseFields.assignee) {
                tags.insert(principal(PrincipalID(assignee)))
            }
            let skill = text(CaseFields.requiredSkill)
            let queue = text(CaseFields.queue)
            if let skill { tags.insert(self.skill(provider, skill)) }
            if let queue { tags.insert(self.queue(provider, queue)) }
            if skill == nil && queue == nil { tags.insert(unrouted(provider)) }
        case .profile, .preferences:
            tags.insert(customer(PrincipalID(record.id.rawValue)))
            tags.insert(unrouted(provider))
        case .notice, .answer:
            tags.insert(providerWide(provider))
        default:
            break
        }
        return tags
    }
}
