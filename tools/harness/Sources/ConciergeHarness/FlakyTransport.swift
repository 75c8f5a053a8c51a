import ConciergeClient
import ConciergeCore
import Synchronization

/// A transport whose connection is cut and healed at random (seeded): a request fails before it
/// reaches the server, or — the hard case — reaches it and loses the answer. Every set the server
/// acknowledged is recorded from the answers it really gave, for the oracle.
final class FlakyTransport: SyncTransport, Sendable {
    struct State {
        var random: SplitMix64
        var faultPercent: UInt64
        var acknowledged: [ChangeSetID: ChangeSet] = [:]
        var cuts = 0
        var lostAnswers = 0
    }

    let inner: HTTPSyncTransport
    let state: Mutex<State>

    init(inner: HTTPSyncTransport, seed: UInt64, faultPercent: UInt64) {
        self.inner = inner
        self.state = Mutex(State(random: SplitMix64(seed: seed), faultPercent: faultPercent))
    }

    var acknowledged: [ChangeSetID: ChangeSet] { state.withLock { $0.acknowledged } }
    var cuts: Int { state.withLock { $0.cuts } }
    var lostAnswers: Int { state.withLock { $0.lostAnswers } }

    func heal() { state.withLock { $0.faultPercent = 0 } }

    /// 0: deliver; 1: cut before sending; 2: send, then lose the answer.
    func fault() -> Int {
        state.withLock { state in
            guard state.faultPercent > 0 else { return 0 }
            let roll = state.random.next() % 100
            if roll < state.faultPercent / 2 {
                state.cuts += 1
                return 1
            }
            if roll < state.faultPercent {
                state.lostAnswers += 1
                return 2
            }
            return 0
        }
    }

    func push(_ request: PushRequest) async throws -> PushResponse {
        let fault = fault()
        if fault == 1 { throw SyncError(.unavailable, "harness: connection cut before the push") }
        let response = try await inner.push(request)
        let sets = Dictionary(request.changeSets.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        state.withLock { state in
            for outcome in response.outcomes where outcome.status != .rejected {
                if let set = sets[outcome.id] { state.acknowledged[outcome.id] = set }
            }
        }
        if fault == 2 { throw SyncError(.unavailable, "harness: the push answer was lost") }
        return response
    }

    func pull(_ request: PullRequest) async throws -> PullResponse {
        let fault = fault()
        if fault == 1 { throw SyncError(.unavailable, "harness: connection cut before the pull") }
        let response = try await inner.pull(request)
        if fault == 2 { throw SyncError(.unavailable, "harness: the pull answer was lost") }
        return response
    }
}
