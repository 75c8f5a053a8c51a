/// Fetches the pull answers that follow one another (the pages of a snapshot, then of the log)
/// while the engine applies earlier ones, up to `depth` answers ahead of it.
///
/// It sends one request at a time, and the engine sends none while it runs, so two silent token
/// refreshes never race (a refresh token used twice revokes the device). A failed request ends
/// the chain: the engine takes the failure in its turn and retries on its own.
actor PullAhead {
    typealias Answer = Result<PullResponse, any Error>

    private let transport: any SyncTransport
    private let limit: Int
    private let depth: Int
    /// Fetched answers the engine has not taken, in order, with the requests they answer.
    private var answers: [(request: PullRequest, answer: Answer)] = []
    /// The request being fetched or to fetch next; `nil` once the chain has ended.
    private var next: PullRequest?
    private var engineWaiting: CheckedContinuation<Void, Never>?
    private var fetcherWaiting: CheckedContinuation<Void, Never>?

    /// - Parameters:
    ///   - first: the first request to fetch.
    ///   - depth: the most answers fetched and not yet taken.
    init(transport: any SyncTransport, first: PullRequest, limit: Int, depth: Int) {
        self.transport = transport
        self.limit = limit
        self.depth = depth
        next = first
    }

    /// Fetches until the chain ends or ``stop()``; run it in a task of its own.
    func run() async {
        while let request = next {
            guard answers.count < depth else {
                await withCheckedContinuation { fetcherWaiting = $0 }
                continue
            }
            let answer: Answer
            do { answer = .success(try await transport.pull(request)) } catch { answer = .failure(error) }
            guard next == request else { break }  // stopped meanwhile
            answers.append((request, answer))
            if case .success(let response) = answer {
                next = PullRequest.following(response, limit: limit)
            } else {
                next = nil
            }
            engineWaiting?.resume()
            engineWaiting = nil
        }
        engineWaiting?.resume()
        engineWaiting = nil
    }

    /// The answer to `request` and the answers fetched after it, up to `count` of them in all,
    /// ending at the first failure; waits for the first. `nil` when the chain does not go on with
    /// `request`.
    func take(_ request: PullRequest, upTo count: Int) async -> [Answer]? {
        while answers.isEmpty {
            guard next == request else { return nil }
            await withCheckedContinuation { engineWaiting = $0 }
        }
        guard answers[0].request == request else { return nil }
        var taken: [Answer] = []
        while taken.count < max(count, 1), !answers.isEmpty {
            let answer = answers.removeFirst().answer
            taken.append(answer)
            if case .failure = answer { break }
        }
        fetcherWaiting?.resume()
        fetcherWaiting = nil
        return taken
    }

    /// Ends the chain: nothing more is fetched (a request under way finishes; its answer is
    /// dropped).
    func stop() {
        next = nil
        fetcherWaiting?.resume()
        fetcherWaiting = nil
    }
}

extension PullRequest {
    /// The pull that follows `response` once it is applied, when the server said there is more.
    static func following(_ response: PullResponse, limit: Int) -> PullRequest? {
        switch response {
        case .page(let page) where page.hasMore: PullRequest(cursor: page.cursor, limit: limit)
        case .reset(let snapshot):
            snapshot.more.map { PullRequest(cursor: snapshot.cursor, limit: limit, snapshot: $0) }
        default: nil
        }
    }
}
