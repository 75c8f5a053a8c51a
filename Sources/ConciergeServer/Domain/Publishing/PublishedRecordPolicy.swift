import ConciergeCore

/// The rules of what a provider publishes to all its customers: notices (an outage, a recall) and
/// public answers. Everybody at the provider reads them; agents, specialists and supervisors of
/// the provider write them; their provider is fixed.
struct PublishedRecordPolicy: RecordPolicy {
    /// `notice` or `answer`.
    let type: RecordType
    let audienceFields: Set<String> = [CaseFields.provider]

    func audience(of record: Record, owner: Principal?) -> Set<String> {
        guard let provider = record.value(CaseFields.provider)?.stringValue.map(ProviderID.init) else { return [] }
        return [Audience.provider(provider), Audience.providerWide(provider)]
    }

    func authorize(_ write: RecordWrite) throws(SyncError) {
        let principal = write.principal
        guard write.current.value(CaseFields.provider)?.stringValue == principal.provider.rawValue else {
            throw SyncError(.outOfScope, "not the author's provider")
        }
        guard principal.role == .agent || principal.role == .supervisor || principal.role == .specialist else {
            throw SyncError(.forbiddenField, "\(principal.role.withArticle) may not publish")
        }
        if !write.isCreation,
            write.changes.contains(where: {
                if case .write(CaseFields.provider, _, _, _, _, _) = $0 { true } else { false }
            })
        {
            throw SyncError(.forbiddenField, "the provider cannot change")
        }
    }
}
