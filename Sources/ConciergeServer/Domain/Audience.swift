import ConciergeCore

/// Who may read a record, as tags: a principal reads every record whose audience shares a tag
/// with its own (``Principal/tags``). Each record type's policy says which tags its records carry
/// (``RecordPolicy/audience(of:owner:)``):
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

    /// The audience of a record's current state by the standard rules; empty when it has no
    /// provider yet.
    /// - Parameter owner: for records a customer owns, the customer they belong to.
    public static func of(_ record: ConciergeCore.Record, owner: Principal? = nil) -> Set<String> {
        DomainRules.standard.audience(of: record, owner: owner)
    }
}
