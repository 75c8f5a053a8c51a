import ConciergeCore
import Foundation

/// Replies on the customer's channel, as the integration that delivers them sees them: it fetches
/// what waits for it (each delivery leased for a while, handed out again when no result came:
/// at least once), sends it, and reports the result, which lands on the case's timeline as a
/// `delivery` entry written through the integration's replica.
struct OutboundReplies: Sendable {
    static let leaseMillis: Int64 = 60_000
    static let maximumBatch = 100

    let store: any ServerStore
    let queue: OutboundQueue
    let writers: IntegrationWriters

    init(store: any ServerStore, writers: IntegrationWriters) {
        self.store = store
        self.queue = OutboundQueue(store: store)
        self.writers = writers
    }

    /// A delivery handed out: where to send what.
    struct Handed: Sendable {
        var delivery: OutboundDelivery
        var body: String
        var to: ContactPoint?
        var subject: String?
        var inReplyTo: String?
    }

    /// Leases up to `limit` deliveries waiting for `integration` on the key's channels, after
    /// queueing what the change log holds that the queue has not seen yet (so a reply pushed a
    /// moment ago is there). A reply erased before it was sent is not handed out: it fails.
    func handOut(to integration: Principal, key: StoredIntegrationKey, limit: Int) async throws -> [Handed] {
        while try await store.follow(queue.name, limit: FollowerService.batchSize, { try await queue.handle($0) })
            == FollowerService.batchSize
        {}
        let now = StoreSupport.nowMillis()
        let leased = try await store.lease(
            integration: integration.id, channels: key.channels, limit: limit, now: now, until: now + Self.leaseMillis)
        var handed: [Handed] = []
        for delivery in leased {
            guard let record = try await store.record(RecordKey(type: .serviceCase, id: delivery.caseID)),
                let serviceCase = ServiceCase(record),
                let entry = record.log(CaseFields.timeline)?.entries[delivery.entry],
                let body = entry.personal["body"]?.stringValue, record.redacted == nil, record.deleted == nil
            else {
                _ = try await store.finish(
                    id: delivery.id, state: .failed, detail: "erased or deleted before it was sent", at: now)
                continue
            }
            handed.append(
                Handed(
                    delivery: delivery, body: body, to: try await recipient(of: serviceCase, on: delivery.channel),
                    subject: serviceCase.subject, inReplyTo: Self.lastMessageID(in: serviceCase)))
        }
        return handed
    }

    /// Where the reply goes: the point the customer last wrote from on this channel on the case,
    /// else their stored point of the channel's kind, verified first.
    func recipient(of serviceCase: ServiceCase, on channel: Channel) async throws -> ContactPoint? {
        // A chat or a letter has no stored point of its own: only where the customer last wrote from.
        let kinds: [Channel: ContactPoint.Kind] = [.email: .email, .sms: .phone, .social: .social]
        if let last = serviceCase.timeline.last(where: {
            serviceCase.isCustomerMessage($0) && $0.payload["channel"]?.stringValue == channel.rawValue
        }), let from = last.personal["from"]?.stringValue,
            let kind = last.payload["sender"]?["kind"]?.stringValue
        {
            return ContactPoint(
                kind: ContactPoint.Kind(kind), value: from, parsed: last.payload["sender"]?["parsed"]?.boolValue ?? true
            )
        }
        guard let customer = serviceCase.customer, let kind = kinds[channel] else { return nil }
        let points = try await store.contactPoints(of: customer).filter { $0.point.kind == kind }
        return (points.first(where: \.verified) ?? points.first)?.point
    }

    /// The Message-ID of the customer's last e-mail on the case, for In-Reply-To.
    static func lastMessageID(in serviceCase: ServiceCase) -> String? {
        serviceCase.timeline.last {
            serviceCase.isCustomerMessage($0) && $0.payload["email"]?["messageId"]?.stringValue != nil
        }?.payload["email"]?["messageId"]?.stringValue
    }

    /// What a report did.
    struct Reported: Sendable {
        var delivery: OutboundDelivery
        /// It had been reported before: nothing was written this time.
        var again: Bool
        var counts: PushCounts?
    }

    /// Records the result of a delivery the integration was handed: on the timeline (a `delivery`
    /// entry) and in the queue. A second report of the same delivery changes nothing and says so.
    /// - Throws: `notFound` for a delivery that is not the integration's.
    func report(
        _ id: String, result: OutboundDelivery.State, detail: String?, channelID: String?, by integration: Principal
    ) async throws -> Reported {
        guard let delivery = try await store.delivery(id: id), delivery.integration == integration.id else {
            throw SyncError(.notFound, "no delivery \(id) for this integration")
        }
        guard delivery.state == .pending else { return Reported(delivery: delivery, again: true) }
        let (replica, clock) = try await writers.replica(of: integration)
        var builder = SetBuilder(author: integration.author, clock: clock)
        let entry = DeliveryEntry(
            message: delivery.entry, channel: delivery.channel, result: result.rawValue, channelID: channelID,
            detail: detail)
        builder.append(
            EntryKind.delivery, id: EntryID("delivery:\(delivery.entry.rawValue)"), to: CaseFields.timeline,
            of: RecordKey(type: .serviceCase, id: delivery.caseID), payload: entry.payload, personal: entry.personal)
        let (outcomes, counts) = try await store.push(
            [builder.finish(seq: Self.seq(of: delivery))], from: Caller(principal: integration, replica: replica),
            serverMillis: UInt64(StoreSupport.nowMillis()))
        switch outcomes.first?.status {
        case .accepted?, .duplicate?:
            break
        default:
            let error = outcomes.first?.error ?? SyncError(.internalError, "the result was not stored")
            // seqReused: a report of this delivery was written before (a crash before the queue
            // noted it, or two reports at once); the queue is brought level below.
            if error.code != .seqReused { throw error }
        }
        let finished = try await store.finish(id: id, state: result, detail: detail, at: StoreSupport.nowMillis())
        return Reported(delivery: finished ?? delivery, again: false, counts: counts)
    }

    /// The change-set number of a delivery's result: from its id, so that a report written twice
    /// is refused as the same set (`seqReused`) instead of writing a second entry.
    static func seq(of delivery: OutboundDelivery) -> UInt64 {
        let hex = delivery.id.dropFirst().prefix(15)
        return max(UInt64(hex, radix: 16) ?? 1, 1)
    }
}
