import ConciergeCore
import Crypto
import Foundation

/// Follows the change log and queues every reply staff write on a channel an integration delivers
/// (e-mail, SMS, chat, social, letter) for that integration: the one that took in the customer's
/// last message on that channel on the case, else the provider's integration with a key for the
/// channel (the smallest id). With none, the delivery is stored as failed at once. The consent and
/// quiet hours were checked when the reply was pushed (``CasePolicy``).
///
/// Idempotent (a batch may come twice): a delivery's id is derived from the case and the entry.
struct OutboundQueue: ChangeLogFollower {
    static let followerName = "outbound-replies"
    /// The channels an integration delivers text on; a reply in the app needs no delivery, and an
    /// outbound call or visit is a record of something done, not something to send.
    static let deliveredChannels: Set<Channel> = [.email, .sms, .chat, .social, .letter]

    let name = Self.followerName
    let store: any ServerStore

    func handle(_ sets: [LoggedChangeSet]) async throws {
        var deliveries: [OutboundDelivery] = []
        for logged in sets where logged.changeSet.author.role.isStaff {
            for change in logged.changeSet.changes where change.key.type == .serviceCase {
                guard case .append(CaseFields.timeline, let entry) = change.change,
                    CasePolicy.isOutboundMessage(entry),
                    let channel = entry.payload["channel"]?.stringValue.map(Channel.init),
                    Self.deliveredChannels.contains(channel)
                else { continue }
                if let delivery = try await delivery(of: entry, on: change.key.id, channel: channel) {
                    deliveries.append(delivery)
                }
            }
        }
        if !deliveries.isEmpty { try await store.enqueue(deliveries) }
    }

    func delivery(of entry: NewEntry, on caseID: RecordID, channel: Channel) async throws -> OutboundDelivery? {
        guard let record = try await store.record(RecordKey(type: .serviceCase, id: caseID)),
            let serviceCase = ServiceCase(record), let provider = serviceCase.provider
        else { return nil }
        let candidates = try await store.integrations(of: provider, for: channel)
        let lastTakenBy = serviceCase.timeline.last { earlier in
            serviceCase.isCustomerMessage(earlier) && earlier.author.role == .integration
                && earlier.payload["channel"]?.stringValue == channel.rawValue
        }?.author.principal
        let integration = lastTakenBy.flatMap { candidates.contains($0) ? $0 : nil } ?? candidates.first
        return OutboundDelivery(
            id: Self.deliveryID(caseID: caseID, entry: entry.id), provider: provider, integration: integration,
            caseID: caseID, entry: entry.id, channel: channel, state: integration == nil ? .failed : .pending,
            detail: integration == nil ? "no integration of the provider delivers \(channel)" : nil,
            createdAt: Int64(entry.stamp.hlc.millis), finishedAt: integration == nil ? StoreSupport.nowMillis() : nil)
    }

    /// `d` and 32 hex digits of SHA-256 over the case id and the entry id.
    static func deliveryID(caseID: RecordID, entry: EntryID) -> String {
        let digest = SHA256.hash(data: Array("\(caseID.rawValue)\u{0}\(entry.rawValue)".utf8))
        return "d" + digest.prefix(16).map { String(format: "%02x", $0) }.joined()
    }
}
