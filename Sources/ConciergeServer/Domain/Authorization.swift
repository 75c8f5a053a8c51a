import ConciergeCore

extension DomainRules {
    /// Whether a principal may make a change set: the set is authored by the principal, and each
    /// record's policy allows its changes. The first refusal names its code.
    func authorize(_ set: ChangeSet, by principal: Principal, writes: [RecordWrite]) throws(SyncError) {
        guard set.author == principal.author else {
            throw SyncError(.outOfScope, "a change set must be authored by the principal that sends it")
        }
        for write in writes {
            guard let policy = policies[write.key.type] else {
                throw SyncError(.unknownField, "unknown record type \"\(write.key.type)\"")
            }
            try policy.authorize(write)
        }
    }
}
