import ConciergeCore
import Synchronization

/// What the server writes for a channel integration (a contact taken in, a delivery reported)
/// is written through the integration's own replica, with one clock per replica shared by every
/// writer: stamps of one replica must never repeat.
final class IntegrationWriters: Sendable {
    let store: any ServerStore
    private let clocks = Mutex<[ReplicaID: StampClock]>([:])
    private let replicas = Mutex<[PrincipalID: ReplicaID]>([:])

    init(store: any ServerStore) { self.store = store }

    /// The integration's replica (the device made with it, `admin create-integration`) and its clock.
    /// - Throws: `unauthorized` when the integration has no replica.
    func replica(of integration: Principal) async throws -> (ReplicaID, StampClock) {
        let known = replicas.withLock { $0[integration.id] }
        let replica: ReplicaID
        if let known {
            replica = known
        } else {
            guard let device = try await store.devices(of: integration.id).first(where: { !$0.revoked }) else {
                throw SyncError(
                    .unauthorized, "the integration has no replica; create it with admin create-integration")
            }
            replicas.withLock { $0[integration.id] = device.replica }
            replica = device.replica
        }
        let clock = clocks.withLock { clocks in
            if let clock = clocks[replica] { return clock }
            let clock = StampClock(replica: replica)
            clocks[replica] = clock
            return clock
        }
        return (replica, clock)
    }

}
