import ConciergeCore

/// A principal as the server knows it: who, for which provider, in which role, and what it may
/// read.
public struct Principal: Hashable, Sendable {
    public var id: PrincipalID
    public var provider: ProviderID
    public var role: Role
    public var displayName: String
    /// Skills (agents, specialists, technicians) and queues (agents): which cases they see.
    public var skills: [String]
    public var queues: [String]

    public init(
        id: PrincipalID, provider: ProviderID, role: Role, displayName: String, skills: [String] = [],
        queues: [String] = []
    ) {
        self.id = id
        self.provider = provider
        self.role = role
        self.displayName = displayName
        self.skills = skills
        self.queues = queues
    }

    public var author: Author { Author(principal: id, role: role) }

    /// The audience tags this principal reads (see ``Audience``).
    public var tags: Set<String> {
        var tags: Set<String> = [Audience.principal(id), Audience.providerWide(provider)]
        switch role {
        case .customer:
            tags.insert(Audience.customer(id))
        case .supervisor, .integration:
            tags.insert(Audience.provider(provider))
        case .agent, .specialist:
            tags.insert(Audience.unrouted(provider))
            for skill in skills { tags.insert(Audience.skill(provider, skill)) }
            for queue in queues { tags.insert(Audience.queue(provider, queue)) }
        default:
            break  // technicians: the cases assigned to them, through their principal tag
        }
        return tags
    }
}
