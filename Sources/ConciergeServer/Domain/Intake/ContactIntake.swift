import ConciergeCore
import Foundation
import Synchronization

/// Takes a contact from a channel integration onto the one case timeline (the design's section
/// 9): finds the customer and the case, makes the integration's change set (a new customer's
/// profile, a new case, the message entry), and pushes it through the same push path,
/// authorization and change log as a device's.
///
/// Matching, in order:
/// 1. a case reference (``IntakeContact/caseReference``, or `[#<case id>]` in the subject) whose
///    case belongs to the customer the contact point names: a reference to another customer's
///    case never attaches the contact there;
/// 2. the e-mail thread: In-Reply-To, then References from the newest, against the Message-IDs of
///    the provider's contacts taken in, unless the contact point names another customer;
/// 3. the contact point: the customer's open case when they have exactly one, else a new case;
/// 4. else a new, unverified customer with a new case.
///
/// The channel's own id is the entry's id and decides the set's id, so a delivery repeated,
/// even two at once, stores one entry; the answer says it was there already.
final class ContactIntake: Sendable {
    let store: any ServerStore
    let writers: IntegrationWriters
    let notes: TakenInNotes

    init(store: any ServerStore, writers: IntegrationWriters) {
        self.store = store
        self.writers = writers
        self.notes = TakenInNotes(store: store)
    }

    /// What happened to a contact.
    struct Outcome: Sendable {
        var caseID: RecordID
        var customer: PrincipalID
        var entry: EntryID
        /// `reference`, `thread`, `contactPoint` or `new`.
        var matchedBy: String
        var newCase: Bool
        var newCustomer: Bool
        /// It had been taken in before: nothing was stored this time.
        var duplicate: Bool
        var counts: PushCounts?
    }

    /// Takes `contact` in for `integration` through `key`.
    /// - Throws: ``SyncError``: `outOfScope` for a channel the key may not write, `unavailable`
    ///   when a delivery of the same contact is under way (retry), the push's refusal otherwise
    ///   (say, `contactNotAllowed` for an outbound contact the customer's preferences forbid).
    func take(_ contact: IntakeContact, from integration: Principal, key: StoredIntegrationKey) async throws
        -> Outcome
    {
        guard key.channels.contains(contact.channel) else {
            throw SyncError(.outOfScope, "this key may not write \(contact.channel) contacts")
        }
        let provider = integration.provider
        if let known = try await store.takenIn(
            provider: provider, channel: contact.channel, channelID: contact.channelID)
        {
            return Outcome(taken: known, matchedBy: "channelId", duplicate: true)
        }
        let point = try contact.contactPoint(region: try await store.defaultRegion(of: provider))
        let match = try await match(contact, point: point, provider: provider)
        var customer = match.customer
        var isNewCustomer = false
        if customer == nil {
            (customer, isNewCustomer) = try await newCustomer(
                point: point, name: contact.senderName, provider: provider)
        }
        guard let customer else { preconditionFailure("a customer was found or made") }
        // The point stands for this customer's identity only when it is theirs (or a customer's
        // merged into them) and verified.
        let verified = match.pointCustomer == customer && match.stored?.verified == true
        let caseID = match.serviceCase?.id ?? RecordID(UUID().uuidString.lowercased())
        let (replica, clock) = try await writers.replica(of: integration)
        var builder = SetBuilder(author: integration.author, clock: clock)
        if isNewCustomer { Self.profile(of: customer, point: point, name: contact.senderName, into: &builder) }
        let caseKey = RecordKey(type: .serviceCase, id: caseID)
        if match.serviceCase == nil {
            builder.write(.string(provider.rawValue), to: CaseFields.provider, of: caseKey)
            builder.write(.string(customer.rawValue), to: CaseFields.customer, of: caseKey)
            builder.write(.string(Self.subject(of: contact, point: point)), to: CaseFields.subject, of: caseKey)
            builder.write(.string(contact.channel.rawValue), to: CaseFields.originChannel, of: caseKey)
        }
        // A contact on another channel than the case's last one: the conversation moved (a chat
        // became a call), and the timeline says so before the contact.
        if let serviceCase = match.serviceCase,
            let last = serviceCase.lastChannel ?? serviceCase.originChannel, last != contact.channel
        {
            let switched = ChannelSwitchEntry(from: last, to: contact.channel)
            builder.append(
                EntryKind.channelSwitch, id: EntryID("switch:\(contact.entryID)"), to: CaseFields.timeline, of: caseKey,
                payload: switched.payload)
        }
        let entry = MessageEntry(
            channel: contact.channel, direction: contact.direction, body: contact.body,
            sender: MessageEntry.Sender(point: point, verified: verified), email: contact.email, call: contact.call,
            occurredAt: contact.atMillis)
        builder.append(
            EntryKind.message, id: contact.entryID, to: CaseFields.timeline, of: caseKey, payload: entry.payload,
            personal: entry.personal)
        let set = builder.finish(seq: contact.seq)
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        let (outcomes, counts) = try await store.push(
            [set], from: Caller(principal: integration, replica: replica), serverMillis: now)
        let taken = TakenInContact(
            provider: provider, channel: contact.channel, channelID: contact.channelID, caseID: caseID,
            customer: customer, entry: contact.entryID, messageID: contact.email?.messageID, createdAt: Int64(now))
        switch outcomes.first?.status {
        case .accepted?:
            try await notes.note(taken)
            return Outcome(
                caseID: caseID, customer: customer, entry: contact.entryID, matchedBy: match.by,
                newCase: match.serviceCase == nil, newCustomer: isNewCustomer, duplicate: false, counts: counts)
        case .duplicate?:
            try await store.noteTakenIn(taken)
            return Outcome(taken: taken, matchedBy: match.by, duplicate: true)
        default:
            let error = outcomes.first?.error ?? SyncError(.internalError, "the contact was not stored")
            if error.code == .seqReused {
                // Another delivery of the same contact got there first: where did it land?
                if let known = try await store.takenIn(
                    provider: provider, channel: contact.channel, channelID: contact.channelID)
                {
                    return Outcome(taken: known, matchedBy: "channelId", duplicate: true)
                }
                // Stored, but not noted (a crash between the two): find the entry on the
                // customer's cases and note it now.
                if let found = try await find(contact.entryID, amongCasesOf: customer) {
                    var recovered = taken
                    recovered.caseID = found
                    try await store.noteTakenIn(recovered)
                    return Outcome(taken: recovered, matchedBy: "channelId", duplicate: true)
                }
                // Still being stored by the other delivery: a retry answers with where it landed.
                throw SyncError(.unavailable, "a delivery of the same contact is under way; try again")
            }
            throw error
        }
    }

    /// Where a contact belongs: its customer and case (`nil`: a new one), why, and the stored
    /// contact point it came from (`nil`: nobody has it yet).
    struct Match {
        var customer: PrincipalID?
        var serviceCase: ServiceCase?
        var by: String
        var stored: StoredContactPoint?
        /// The customer the stored point names, read through merges.
        var pointCustomer: PrincipalID?
    }

    /// Finds where the contact belongs, in the order the type's documentation gives. Customers and
    /// cases are read through their merges: a contact lands on the survivor.
    func match(_ contact: IntakeContact, point: ContactPoint, provider: ProviderID) async throws -> Match {
        let stored = try await store.contactPoint(point, provider: provider)
        var known: PrincipalID?
        if let stored { known = try await customer(stored.customer) }
        if let reference = Self.reference(in: contact), let known,
            let serviceCase = try await serviceCase(reference, of: provider), let owner = serviceCase.customer,
            try await customer(owner) == known
        {
            return Match(
                customer: known, serviceCase: serviceCase, by: "reference", stored: stored, pointCustomer: known)
        }
        if let email = contact.email {
            let ids = [email.inReplyTo].compactMap { $0 } + email.references.reversed()
            if !ids.isEmpty, let thread = try await store.threaded(provider: provider, messageIDs: ids),
                case let threadCustomer = try await customer(thread.customer),
                known == nil || known == threadCustomer,
                let serviceCase = try await serviceCase(thread.caseID, of: provider)
            {
                return Match(
                    customer: threadCustomer, serviceCase: serviceCase, by: "thread", stored: stored,
                    pointCustomer: known)
            }
        }
        guard let known else { return Match(customer: nil, serviceCase: nil, by: "new", stored: nil) }
        var open: [RecordID: ServiceCase] = [:]
        for id in try await store.records(of: .serviceCase, taggedWith: Audience.customer(known)) {
            guard let serviceCase = try await serviceCase(id, of: provider), serviceCase.customer == known,
                ![CaseStatus.resolved, .closed].contains(serviceCase.status)
            else { continue }
            open[serviceCase.id] = serviceCase
        }
        return Match(
            customer: known, serviceCase: open.count == 1 ? open.values.first : nil, by: "contactPoint",
            stored: stored, pointCustomer: known)
    }

    /// A case of the provider as stored, read through its merges (the survivor), unless deleted.
    func serviceCase(_ id: RecordID, of provider: ProviderID) async throws -> ServiceCase? {
        var record = try await store.record(RecordKey(type: .serviceCase, id: id))
        if let marker = record?.mergeMarker {
            let survivor = try await survivor(of: RecordKey(type: .serviceCase, id: id), pointingTo: marker.into)
            record = try await store.record(RecordKey(type: .serviceCase, id: survivor))
        }
        guard let serviceCase = record.flatMap(ServiceCase.init), serviceCase.provider == provider,
            serviceCase.record.deleted == nil
        else { return nil }
        return serviceCase
    }

    /// The customer `id` reads as, through merges of their profile.
    func customer(_ id: PrincipalID) async throws -> PrincipalID {
        PrincipalID(try await survivor(of: RecordKey(type: .profile, id: RecordID(id.rawValue))).rawValue)
    }

    /// The record `key` reads as, following `mergedInto` as stored (``Redirects``).
    /// - Parameter first: where `key` points, when its record was read already.
    func survivor(of key: RecordKey, pointingTo first: RecordID? = nil) async throws -> RecordID {
        var edges: [RecordID: RecordID] = [:]
        var current = key.id
        if let first {
            edges[current] = first
            current = first
        }
        while edges[current] == nil,
            let into = try await store.record(RecordKey(type: key.type, id: current))?.mergeMarker?.into
        {
            edges[current] = into
            current = into
        }
        return Redirects.survivor(of: key.id) { edges[$0] }
    }

    /// The case of `customer` whose timeline holds `entry`.
    func find(_ entry: EntryID, amongCasesOf customer: PrincipalID) async throws -> RecordID? {
        for id in try await store.records(of: .serviceCase, taggedWith: Audience.customer(customer)) {
            let record = try await store.record(RecordKey(type: .serviceCase, id: id))
            if record?.log(CaseFields.timeline)?.ordered.contains(where: { $0.id == entry }) == true { return id }
        }
        return nil
    }

    /// A case id the contact names: its `caseReference`, or `[#<id>]` in its subject.
    static func reference(in contact: IntakeContact) -> RecordID? {
        if let reference = contact.caseReference?.trimmingCharacters(in: .whitespaces), !reference.isEmpty {
            return RecordID(reference.lowercased())
        }
        guard let subject = contact.subject, let open = subject.range(of: "[#"),
            let close = subject[open.upperBound...].firstIndex(of: "]")
        else { return nil }
        let id = subject[open.upperBound..<close].trimmingCharacters(in: .whitespaces).lowercased()
        return id.isEmpty ? nil : RecordID(id)
    }

    /// Makes a new customer of the provider for a contact point nobody has, and keeps the point
    /// as theirs, unverified. Two contacts from the same new point at once: the first keeps the
    /// point, and the second lands on its customer (`created` `false`).
    func newCustomer(point: ContactPoint, name: String?, provider: ProviderID) async throws -> (
        customer: PrincipalID, created: Bool
    ) {
        let id = PrincipalID(UUID().uuidString.lowercased())
        let displayName = name?.trimmingCharacters(in: .whitespaces).nonEmpty ?? point.value
        try await store.createPrincipal(
            Principal(id: id, provider: provider, role: .customer, displayName: String(displayName.prefix(200))))
        let kept = try await store.addContactPoint(
            StoredContactPoint(provider: provider, point: point, customer: id, createdAt: StoreSupport.nowMillis()))
        return (kept.customer, kept.customer == id)
    }

    /// The new customer's profile: a name, and the contact point in its field.
    static func profile(of customer: PrincipalID, point: ContactPoint, name: String?, into builder: inout SetBuilder) {
        let key = RecordKey(type: .profile, id: RecordID(customer.rawValue))
        if let name = name?.trimmingCharacters(in: .whitespaces).nonEmpty {
            builder.write(.string(name), to: ProfileFields.displayName, of: key)
        }
        switch point.kind {
        case .email: builder.write(.string(point.value), to: ProfileFields.email, of: key)
        case .phone: builder.write(.string(point.value), to: ProfileFields.phone, of: key)
        default: break
        }
    }

    /// A new case's subject: the e-mail's, or what came in on which channel from whom.
    static func subject(of contact: IntakeContact, point: ContactPoint) -> String {
        if let subject = contact.subject?.trimmingCharacters(in: .whitespaces).nonEmpty { return subject }
        return "\(contact.channel) \(contact.inbound ? "from" : "to") \(point.value)"
    }

}

extension ContactIntake.Outcome {
    init(taken: TakenInContact, matchedBy: String, duplicate: Bool) {
        self.init(
            caseID: taken.caseID, customer: taken.customer, entry: taken.entry, matchedBy: matchedBy, newCase: false,
            newCustomer: false, duplicate: duplicate, counts: nil)
    }
}

extension String {
    /// The text, or `nil` when it is empty.
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}
