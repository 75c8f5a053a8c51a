/// The client sync loop as a pure state machine: each event returns the next action, and the
/// caller (``SyncEngine``, or an app's own driver) does the I/O.
///
/// One run pushes the outbox in batches (each set at most once per run), then pulls until the
/// server has no more. Transport failures with retryable codes back off exponentially with
/// jitter from a seeded generator; others end the run.
public struct SyncMachine: Sendable {
    public struct Configuration: Hashable, Sendable {
        public var pushBatchSize = 100
        public var pullLimit = 500
        /// Attempts per request before the run gives up.
        public var maxAttempts = 5
        public var baseDelayMillis: UInt64 = 250
        public var maxDelayMillis: UInt64 = 30_000
        public init() {}
    }

    public enum Action: Hashable, Sendable {
        /// Push the next batch of at most `limit` sets.
        case push(limit: Int)
        /// Pull at most `limit` events from the stored cursor.
        case pull(limit: Int)
        /// Wait, then report ``SyncMachine/waited()``.
        case wait(milliseconds: UInt64)
        /// The run is over.
        case finish
        /// The run failed with an error that waiting will not fix (or too many attempts).
        case fail(SyncError)
    }

    enum Phase: Hashable, Sendable {
        case idle, pushing, pulling, finished
    }

    public let configuration: Configuration
    var phase: Phase = .idle
    var attempts = 0
    var random: SplitMix64

    public init(configuration: Configuration = .init(), seed: UInt64 = 0x5EED) {
        self.configuration = configuration
        self.random = SplitMix64(seed: seed)
    }

    /// Starts a run.
    public mutating func start() -> Action {
        phase = .pushing
        attempts = 0
        return .push(limit: configuration.pushBatchSize)
    }

    /// A push went through; `sent` sets were in it (0 when the outbox had nothing left to send).
    public mutating func pushed(sent: Int) -> Action {
        attempts = 0
        guard sent > 0 else {
            phase = .pulling
            return .pull(limit: configuration.pullLimit)
        }
        return .push(limit: configuration.pushBatchSize)
    }

    /// A pull went through.
    public mutating func pulled(hasMore: Bool) -> Action {
        attempts = 0
        if hasMore { return .pull(limit: configuration.pullLimit) }
        phase = .finished
        return .finish
    }

    /// The transport failed.
    public mutating func failed(_ error: SyncError) -> Action {
        guard error.isRetryable else {
            phase = .finished
            return .fail(error)
        }
        attempts += 1
        guard attempts < configuration.maxAttempts else {
            phase = .finished
            return .fail(SyncError(error.code, "gave up after \(attempts) attempts: \(error.message)"))
        }
        let ceiling = min(configuration.maxDelayMillis, configuration.baseDelayMillis << UInt64(attempts - 1))
        // Full jitter: spreads reconnecting replicas apart.
        return .wait(milliseconds: ceiling / 2 + random.next() % (ceiling / 2 + 1))
    }

    /// The wait is over: repeat the request that failed.
    public mutating func waited() -> Action {
        switch phase {
        case .pushing: .push(limit: configuration.pushBatchSize)
        case .pulling: .pull(limit: configuration.pullLimit)
        case .idle, .finished: .finish
        }
    }
}

/// A small, fast, seedable generator (SplitMix64), so that jitter and tests are reproducible.
public struct SplitMix64: RandomNumberGenerator, Hashable, Sendable {
    var state: UInt64

    public init(seed: UInt64) { self.state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
