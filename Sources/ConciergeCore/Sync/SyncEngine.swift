/// Runs the ``SyncMachine`` against a ``Replica`` and a ``SyncTransport``: the driver a phone app
/// or the CLI calls to sync once.
public struct SyncEngine<Store: ReplicaStore>: Sendable {
    public let replica: Replica<Store>
    public let transport: any SyncTransport
    public let configuration: SyncMachine.Configuration
    /// How the engine waits between attempts; injected so that tests do not sleep.
    public let sleep: @Sendable (UInt64) async throws -> Void

    public init(
        replica: Replica<Store>, transport: any SyncTransport, configuration: SyncMachine.Configuration = .init(),
        sleep: @escaping @Sendable (UInt64) async throws -> Void = { try await Task.sleep(for: .milliseconds($0)) }
    ) {
        self.replica = replica
        self.transport = transport
        self.configuration = configuration
        self.sleep = sleep
    }

    /// Pushes the outbox, then pulls until the server has nothing more.
    /// - Parameter progress: called with the report so far after every push that went through and
    ///   every pull page, or few pages applied together (each is committed by then): a progress
    ///   bar, or a screen that refreshes while a long first sync streams in.
    /// - Throws: ``SyncError`` when the transport fails for good; what was done so far is kept.
    public func sync(seed: UInt64 = 0x5EED, progress: (SyncReport) -> Void = { _ in }) async throws -> SyncReport {
        var machine = SyncMachine(configuration: configuration, seed: seed)
        var report = SyncReport()
        var attempted = Set<ChangeSetID>()
        // The pages that follow, fetched while earlier ones are applied (a long first sync then
        // costs about the larger of fetching and applying, not their sum), and applied a few at a
        // time once they have arrived. Used only while the next pull asks exactly for them; stopped
        // otherwise, and then only once its request under way has finished: the engine never has
        // two requests in flight.
        var ahead: (fetcher: PullAhead, task: Task<Void, Never>)?
        defer { ahead?.task.cancel() }
        func settle() async {
            guard let current = ahead else { return }
            await current.fetcher.stop()
            await current.task.value
            ahead = nil
        }
        var action = machine.start()
        while true {
            switch action {
            case .push(let limit):
                let batch = try replica.nextPushBatch(limit: limit, excluding: attempted)
                guard !batch.isEmpty else {
                    action = machine.pushed(sent: 0)
                    continue
                }
                do {
                    let response = try await transport.push(PushRequest(changeSets: batch))
                    attempted.formUnion(batch.map(\.id))
                    report.push(try replica.applyPushResponse(response))
                    progress(report)
                    action = machine.pushed(sent: batch.count)
                } catch {
                    action = machine.failed(Self.syncError(error))
                }
            case .pull(let limit):
                do {
                    let metadata = try replica.metadata()
                    let request = PullRequest(cursor: metadata.cursor, limit: limit, snapshot: metadata.snapshot)
                    var answers: [PullAhead.Answer]
                    if let current = ahead, let taken = await current.fetcher.take(request, upTo: Self.pagesPerApply) {
                        answers = taken
                    } else {
                        await settle()
                        answers = [.success(try await transport.pull(request))]
                    }
                    var responses: [PullResponse] = []
                    var failure: (any Error)?
                    for answer in answers {
                        switch answer {
                        case .success(let response): responses.append(response)
                        case .failure(let error): failure = error
                        }
                    }
                    if ahead == nil, let last = responses.last, let next = PullRequest.following(last, limit: limit) {
                        let fetcher = PullAhead(transport: transport, first: next, limit: limit, depth: Self.pagesAhead)
                        ahead = (fetcher, Task { await fetcher.run() })
                    }
                    if !responses.isEmpty {
                        let summaries = try replica.applyPullResponses(responses)
                        for summary in summaries { report.pull(summary) }
                        progress(report)
                        action = machine.pulled(hasMore: summaries.last!.hasMore)
                    }
                    if let failure { throw failure }
                } catch {
                    action = machine.failed(Self.syncError(error))
                }
            case .wait(let milliseconds):
                try await sleep(milliseconds)
                action = machine.waited()
            case .finish:
                await settle()
                return report
            case .fail(let error):
                await settle()
                throw error
            }
        }
    }

    /// The most pages fetched ahead and not yet applied.
    static var pagesAhead: Int { 8 }
    /// The most pages applied in one transaction (those that have arrived by then).
    static var pagesPerApply: Int { 8 }

    static func syncError(_ error: any Error) -> SyncError {
        if let error = error as? SyncError { return error }
        if error is MergeError || error is CodecError { return SyncError(.malformed, "\(error)") }
        return SyncError(.unavailable, "\(error)")
    }
}

/// What one sync run did.
public struct SyncReport: Hashable, Sendable {
    public var accepted = 0
    public var rejected: [RejectedChangeSet] = []
    public var retrying: [RejectedChangeSet] = []
    public var pulledChangeSets = 0
    public var entered = 0
    public var left = 0
    public var resets: [String] = []
    /// Records received whole, in reset snapshots.
    public var snapshotRecords = 0
    public init() {}

    mutating func push(_ summary: PushSummary) {
        accepted += summary.accepted.count
        rejected += summary.rejected
        retrying += summary.retrying
    }

    mutating func pull(_ summary: PullSummary) {
        pulledChangeSets += summary.changeSets
        entered += summary.entered.count
        left += summary.left.count
        rejected += summary.rejected
        if let reset = summary.reset { resets.append(reset) }
        snapshotRecords += summary.snapshotRecords
    }
}
