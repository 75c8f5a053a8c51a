import ConciergeCore

@testable import ConciergeServer

/// A store observer made of closures, each optional: what one test watches or holds up.
struct TestObserver: StoreObserver {
    var onChecked: (@Sendable ([PushOutcome]) -> Void)?
    var onBeforeCommit: (@Sendable ([PushOutcome]) async throws -> Void)?
    var onBeforeCommitBlocking: (@Sendable ([PushOutcome]) throws -> Void)?
    var onBetweenImageRows: (@Sendable () async throws -> Void)?
    var sendsNotices = true

    func checked(_ outcomes: [PushOutcome]) { onChecked?(outcomes) }
    func beforeCommit(_ outcomes: [PushOutcome]) async throws { try await onBeforeCommit?(outcomes) }
    func beforeCommitBlocking(_ outcomes: [PushOutcome]) throws { try onBeforeCommitBlocking?(outcomes) }
    func betweenImageRows() async throws { try await onBetweenImageRows?() }
}
