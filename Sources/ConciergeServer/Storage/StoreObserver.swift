import ConciergeCore

/// What a test watches, or holds up, inside a store's push and its image builder: one small
/// protocol instead of hooks on the production types. Every method has a default that does
/// nothing; a store opened for production has ``NoObserver``.
///
/// A test uses it to see a group's outcomes as they are checked, to hold a transaction open or fail
/// it just before its commit, or to commit a push in the middle of the image builder's read.
protocol StoreObserver: Sendable {
    /// A group of pushes has been checked beside the writer, before it is written.
    func checked(_ outcomes: [PushOutcome])
    /// Inside a push transaction, after its writes and before its commit, once per batch of the
    /// group with its outcomes; throwing rolls the transaction back. PostgreSQL's.
    func beforeCommit(_ outcomes: [PushOutcome]) async throws
    /// The same, for SQLite, whose transaction runs synchronously on its writer's queue.
    func beforeCommitBlocking(_ outcomes: [PushOutcome]) throws
    /// Inside the PostgreSQL image builder's read of a batch, between its records' field rows and
    /// their entry rows.
    func betweenImageRows() async throws
    /// Whether a PostgreSQL push tells the other instances (a test that loses a notice says no).
    var sendsNotices: Bool { get }
}

extension StoreObserver {
    func checked(_ outcomes: [PushOutcome]) {}
    func beforeCommit(_ outcomes: [PushOutcome]) async throws {}
    func beforeCommitBlocking(_ outcomes: [PushOutcome]) throws {}
    func betweenImageRows() async throws {}
    var sendsNotices: Bool { true }
}

/// A store's observer in production: it watches nothing.
struct NoObserver: StoreObserver {}
