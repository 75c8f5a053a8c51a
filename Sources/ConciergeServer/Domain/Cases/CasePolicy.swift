import ConciergeCore
import Foundation

/// The rules of a service case (`case`): who reads it, who may write which field and entry, the
/// status transitions checked against the case's merged state, and the consent a proactive
/// outbound contact needs.
struct CasePolicy: RecordPolicy {
    let type = RecordType.serviceCase

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
    static let integrationEntryKinds: Set<String> = [
        EntryKind.message, EntryKind.socialPost, EntryKind.channelSwitch, EntryKind.delivery,
    ]

    let audienceFields: Set<String> = [
        CaseFields.provider, CaseFields.customer, CaseFields.assignee, CaseFields.requiredSkill, CaseFields.queue,
    ]

    let internalEntryKinds = [CaseFields.timeline: EntryKind.internalKinds]

    let internalValueMembers = MergeChecks.internalValueMembers

    let internalEntryMembers = [CaseFields.timeline: EntryKind.internalMembers]

    /// Its customer, its assignee, the provider's supervisors and integrations, and the agents of
    /// its required skill or queue, or every agent of the provider when it names neither.
    func audience(of record: Record, owner: Principal?) -> Set<String> {
        func text(_ field: String) -> String? {
            assert(audienceFields.contains(field), "audienceFields must list \(field), which audience(of:) reads")
            return record.value(field)?.stringValue
        }
        guard let provider = text(CaseFields.provider).map(ProviderID.init) else { return [] }
        var tags: Set<String> = [Audience.provider(provider)]
        if let customer = text(CaseFields.customer) { tags.insert(Audience.customer(PrincipalID(customer))) }
        if let assignee = text(CaseFields.assignee) { tags.insert(Audience.principal(PrincipalID(assignee))) }
        let skill = text(CaseFields.requiredSkill)
        let queue = text(CaseFields.queue)
        if let skill { tags.insert(Audience.skill(provider, skill)) }
        if let queue { tags.insert(Audience.queue(provider, queue)) }
        if skill == nil && queue == nil { tags.insert(Audience.unrouted(provider)) }
        return tags
    }

    /// Any timeline append reads the case's status changes (a status change's `from` is checked
    /// against them, and a message to a closed case opens a follow-up); an outbound message also
    /// reads the messages, to tell an answer from a proactive contact.
    func reads(_ changes: [Change]) -> EntryReads {
        var kinds: Set<String> = []
        for change in changes {
            guard case .append(CaseFields.timeline, let entry) = change else { continue }
            kinds.insert(EntryKind.statusChange)
            if Self.isOutboundMessage(entry) { kinds.insert(EntryKind.message) }
            if entry.kind == EntryKind.appointmentOutcome {
                kinds.formUnion([EntryKind.appointmentProposal, EntryKind.appointmentAnswer])
            }
        }
        return EntryReads(kinds: kinds.isEmpty ? [:] : [CaseFields.timeline: kinds])
    }

    /// An outbound message reads the customer's contact preferences; a merge reads the case it
    /// merges into and the customer's profile (merged into the other case's customer?).
    func related(_ write: RecordWrite) -> [RecordKey] {
        guard let customer = write.current.value(CaseFields.customer)?.stringValue else { return [] }
        var keys: [RecordKey] = []
        if write.appended.contains(where: {
            Self.isOutboundMessage($0.entry) || $0.entry.kind == EntryKind.appointmentProposal
        }) {
            keys.append(RecordKey(type: .preferences, id: RecordID(customer)))
        }
        if write.appended.contains(where: { $0.entry.payload["urgent"] != nil }),
            let provider = write.current.value(CaseFields.provider)?.stringValue
        {
            keys.append(RecordKey(type: .routing, id: RecordID(provider)))
        }
        for change in write.changes {
            if case .add(CaseFields.links, let element, _) = change {
                keys.append(RecordKey(type: .serviceCase, id: RecordID(element)))
            }
        }
        if let marker = MergeChecks.target(of: write) {
            keys += [RecordKey(type: .serviceCase, id: marker.into), RecordKey(type: .profile, id: RecordID(customer))]
        }
        return keys
    }

    /// The staff an assignment or a handoff names: each must be a staff member of the provider.
    func relatedPrincipals(_ write: RecordWrite) -> [PrincipalID] {
        var ids: [PrincipalID] = []
        for change in write.changes {
            switch change {
            case .write(CaseFields.assignee, .string(let id), _, _, _, _):
                ids.append(PrincipalID(id))
            case .append(CaseFields.timeline, let entry) where entry.kind == EntryKind.handoff:
                if let to = entry.payload["to"]?.stringValue { ids.append(PrincipalID(to)) }
            default:
                break
            }
        }
        return ids
    }

    /// `id` names a staff member of the case's provider (who, once assigned, reads the case).
    static func requireStaff(_ id: String, in write: RecordWrite, for what: String) throws(SyncError) {
        guard let member = write.principals[PrincipalID(id)], member.role.isStaff,
            member.provider == write.principal.provider
        else { throw SyncError(.outOfScope, "\(what): no staff member \(id) at this provider") }
    }

    static func isOutboundMessage(_ entry: NewEntry) -> Bool {
        entry.kind == EntryKind.message && entry.payload["direction"] == .string(MessageDirection.outbound)
    }

    func authorize(_ write: RecordWrite) throws(SyncError) {
        let principal = write.principal
        let current = write.current
        if write.isCreation {
            let missing = [CaseFields.provider, CaseFields.customer].filter { current.value($0)?.stringValue == nil }
            if !missing.isEmpty {
                throw SyncError(
                    .malformed,
                    "a new case names its provider and its customer; missing: \(missing.joined(separator: ", "))")
            }
        }
        guard current.value(CaseFields.provider)?.stringValue == principal.provider.rawValue else {
            throw SyncError(
                .outOfScope,
                write.isCreation ? "a new case must name the author's provider" : "the case belongs to another provider"
            )
        }
        if let before = write.before, audience(of: before.partial, owner: nil).isDisjoint(with: principal.tags) {
            throw SyncError(.outOfScope, "the case is not in the author's scope")
        }
        let customer = current.value(CaseFields.customer)?.stringValue.map(PrincipalID.init)
        switch principal.role {
        case .customer:
            guard customer == principal.id else {
                throw SyncError(
                    .outOfScope,
                    write.isCreation ? "a customer opens cases for themselves only" : "not the customer's own case")
            }
        case .integration:
            break
        case let role where role.isStaff:
            break
        default:
            throw SyncError(.outOfScope, "role \(principal.role) may not change cases")
        }
        try MergeChecks.authorizeCaseMerge(write)
        for change in write.changes {
            try authorize(change, in: write, caseCustomer: customer)
        }
    }

    func authorize(_ change: Change, in write: RecordWrite, caseCustomer: PrincipalID?) throws(SyncError) {
        let principal = write.principal
        switch change {
        case .write(let field, _, _, _, _, _):
            let fixedOnceSet = field == CaseFields.provider || field == CaseFields.customer
            if fixedOnceSet && !write.isCreation {
                throw SyncError(.forbiddenField, "\(field) cannot change once the case exists")
            }
            if field == CaseFields.assignee, case .write(_, let value, _, _, _, _) = change {
                if let id = value.stringValue {
                    try Self.requireStaff(id, in: write, for: "an assignee")
                } else if !value.isNull {
                    throw SyncError(.malformed, "an assignee is a principal id, or null for the server's routing")
                }
            }
            switch principal.role {
            case .customer:
                guard Self.customerFields.contains(field) || (write.isCreation && Self.creationFields.contains(field))
                else {
                    throw SyncError(.forbiddenField, "a customer may not write \(field)")
                }
            case .integration:
                guard write.isCreation && Self.creationFields.contains(field) else {
                    throw SyncError(.forbiddenField, "an integration may not write \(field)")
                }
            default:
                break
            }
        case .add(let field, let element, _), .remove(let field, let element, _, _):
            guard principal.role.isStaff else {
                throw SyncError(.forbiddenField, "\(principal.role.withArticle) may not change \(field)")
            }
            if case .add = change, field == CaseFields.links {
                try Self.authorizeLink(to: RecordID(element), in: write)
            }
        case .append(_, let entry):
            try authorizeEntry(entry, in: write, caseCustomer: caseCustomer)
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

    func authorizeEntry(_ entry: NewEntry, in write: RecordWrite, caseCustomer: PrincipalID?) throws(SyncError) {
        let principal = write.principal
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
            try authorizeStatusChange(entry, in: write, caseCustomer: caseCustomer)
        }
        if entry.kind == EntryKind.assignment {
            throw SyncError(.forbiddenField, "assignment entries are the server's routing's")
        }
        if entry.kind == EntryKind.handoff {
            guard let to = entry.payload["to"]?.stringValue, entry.payload["from"]?.stringValue != nil else {
                throw SyncError(.malformed, "a handoff names who it is from and to")
            }
            try Self.requireStaff(to, in: write, for: "a handoff")
            guard let summary = entry.personal["summary"]?.stringValue,
                !summary.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            else { throw SyncError(.malformed, "a handoff carries a summary of what we know so far") }
        }
        if entry.kind == EntryKind.channelSwitch {
            guard let switched = ChannelSwitchEntry(payload: entry.payload) else {
                throw SyncError(.malformed, "a channel switch names its from and to channels")
            }
            if let problem = switched.problem { throw SyncError(.malformed, problem) }
        }
        if entry.kind == EntryKind.delivery {
            guard principal.role == .integration else {
                throw SyncError(.forbiddenField, "delivery results come from the integration that delivered")
            }
            guard let result = entry.payload["result"]?.stringValue, DeliveryEntry.results.contains(result) else {
                throw SyncError(.malformed, "a delivery's result is delivered or failed")
            }
        }
        if Self.isOutboundMessage(entry) {
            try authorizeOutbound(entry, in: write)
        }
        if entry.kind == EntryKind.appointmentProposal {
            try authorizeProposal(entry, in: write)
        }
        try FieldWorkChecks.authorize(entry, in: write)
        if entry.kind == EntryKind.appointmentOutcome {
            try authorizeOutcome(entry, in: write)
        }
    }

    /// A status change names a known `from` and `to`, its author may make that transition, and its
    /// `from` is `new` or a status the case has held in merged state (the target of one of its
    /// status changes, this set's included): a client cannot declare a `from` the case never had.
    func authorizeStatusChange(_ entry: NewEntry, in write: RecordWrite, caseCustomer: PrincipalID?)
        throws(SyncError)
    {
        guard let from = entry.payload["from"]?.stringValue.flatMap(CaseStatus.init(rawValue:)),
            let to = entry.payload["to"]?.stringValue.flatMap(CaseStatus.init(rawValue:))
        else { throw SyncError(.invalidTransition, "a status change names a known from and to") }
        guard CaseStatus.isAllowed(from: from, to: to, by: write.principal.author, caseCustomer: caseCustomer) else {
            throw SyncError(
                .invalidTransition, "\(write.principal.role.withArticle) may not change a case from \(from) to \(to)")
        }
        let held = CaseStatus.held(
            byStatusChanges: write.after.entries(EntryKind.statusChange, in: CaseFields.timeline))
        guard held.contains(from) else {
            throw SyncError(
                .invalidTransition, "the case has never been \(from); its status changes name no such state")
        }
    }

    /// A link names another case of the same provider in the author's scope (another provider's
    /// case reads as none).
    static func authorizeLink(to id: RecordID, in write: RecordWrite) throws(SyncError) {
        guard id != write.key.id else { throw SyncError(.malformed, "a case is not linked to itself") }
        guard let other = write.related[RecordKey(type: .serviceCase, id: id)], !other.isDeleted,
            other.value(CaseFields.provider) == write.current.value(CaseFields.provider),
            !CasePolicy().audience(of: other, owner: nil).isDisjoint(with: write.principal.tags)
        else { throw SyncError(.outOfScope, "no case \(id) of this provider in the author's scope to link") }
    }

    /// An outcome is staff's, and names a confirmed appointment of the case (the case's proposals and
    /// answers are read whole for it).
    func authorizeOutcome(_ entry: NewEntry, in write: RecordWrite) throws(SyncError) {
        guard write.principal.role.isStaff else {
            throw SyncError(.forbiddenField, "staff record what became of an appointment")
        }
        // The view reads only the kinds that were read whole.
        let entries = [EntryKind.appointmentProposal, EntryKind.appointmentAnswer].flatMap {
            write.after.entries($0, in: CaseFields.timeline)
        }
        var fields = write.after.partial.fields
        fields[CaseFields.timeline] = Field(
            state: .log(LogState(entries: Dictionary(uniqueKeysWithValues: entries.map { ($0.id, $0) }))))
        let partial = Record(key: write.key, fields: fields, deleted: nil, redacted: nil)
        let proposals = ServiceCase(partial)?.appointments ?? []
        if let problem = AppointmentOutcomeEntry.problem(payload: entry.payload, proposals: proposals) {
            throw SyncError(.malformed, problem)
        }
    }

    /// A proposal's slots are well formed and not in the past, and the customer's preferences allow
    /// its channel at every time of every slot (``AppointmentRules``).
    func authorizeProposal(_ entry: NewEntry, in write: RecordWrite) throws(SyncError) {
        let purpose = entry.payload["purpose"]?.stringValue ?? ""
        let slots = AppointmentSlot.slots(of: entry.payload)
        if (entry.payload["slots"]?.arrayValue?.count ?? 0) != slots.count {
            throw SyncError(.malformed, "each slot is {\"id\", \"start\", \"end\"}, times in ms since 1970 (UTC)")
        }
        if let problem = AppointmentRules.problem(purpose: purpose, slots: slots, nowMillis: Int64(write.serverMillis))
        {
            throw SyncError(.malformed, problem)
        }
        guard let customer = write.current.value(CaseFields.customer)?.stringValue,
            let kind = AppointmentPurpose(rawValue: purpose)
        else { return }
        let preferences = write.related[RecordKey(type: .preferences, id: RecordID(customer))].flatMap(
            ContactPreferences.init)
        if let refusal = AppointmentRules.refusal(preferences, purpose: kind, slots: slots) {
            throw SyncError(.contactNotAllowed, "\(refusal.rule): \(refusal.message)")
        }
    }

    /// An outbound message that does not answer the customer is a proactive contact: the customer's
    /// preferences must allow its channel, their consent must cover its purpose, and it must fall
    /// outside their quiet hours (``ProactiveContact``).
    func authorizeOutbound(_ entry: NewEntry, in write: RecordWrite) throws(SyncError) {
        for member in ["urgent", "overridesQuietHours"] where entry.payload[member] != nil {
            guard entry.payload[member] == .bool(true) else {
                throw SyncError(.malformed, "\(member) is true or absent")
            }
        }
        if entry.payload["urgent"] != nil,
            entry.payload["purpose"].map({ $0 != .string(ProactiveContact.servicePurpose) }) ?? false
        {
            throw SyncError(.malformed, "only service messages are urgent")
        }
        if entry.payload["overridesQuietHours"] != nil, entry.payload["urgent"] == nil {
            throw SyncError(.malformed, "only an urgent message overrides quiet hours")
        }
        // An urgent service message goes through quiet hours when the provider's policy says so;
        // an entry that says it did is checked against the policy, not taken on trust.
        let overriding =
            entry.payload["urgent"] != nil
            && RoutingTable(write.related[RecordKey(type: .routing, id: RecordID(write.principal.provider.rawValue))])
                .urgentInQuietHours
        if entry.payload["overridesQuietHours"] != nil, !overriding {
            throw SyncError(
                .contactNotAllowed, "quietHours: the provider does not let urgent messages through quiet hours")
        }
        guard let customer = write.current.value(CaseFields.customer)?.stringValue else { return }
        let channel = Channel(entry.payload["channel"]?.stringValue ?? Channel.app.rawValue)
        let at = Int64(write.serverMillis)
        let view = ServiceCase(write.after.partial)!
        let customerMessages = write.after.entries(EntryKind.message, in: CaseFields.timeline).filter {
            view.isCustomerMessage($0)
        }
        guard ProactiveContact.isProactive(channel: channel, atMillis: at, customerMessages: customerMessages) else {
            return
        }
        let preferences = write.related[RecordKey(type: .preferences, id: RecordID(customer))].flatMap(
            ContactPreferences.init)
        let purpose = entry.payload["purpose"]?.stringValue ?? ProactiveContact.servicePurpose
        if let refusal = ProactiveContact.refusal(
            preferences, channel: channel, purpose: purpose, atMillis: at, ignoringQuietHours: overriding)
        {
            throw SyncError(.contactNotAllowed, "\(refusal.rule): \(refusal.message)")
        }
    }
}
