import ConciergeCore
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// What a push on one instance tells the others: the log position and who it concerns. Sent with
/// `pg_notify` inside the push's transaction, so it is delivered on commit and only then.
struct FanOutNotice: Sendable {
    /// PostgreSQL's payload limit is 8,000 bytes; a larger notice goes to every connection.
    static let payloadLimit = 7_900

    var instance: String
    var touched: Touched
    var everyone: Bool

    /// - Parameter instance: the sending instance, which skips its own notices (it told its
    ///   clients already).
    init(_ touched: Touched, from instance: String) {
        self.instance = instance
        self.touched = touched
        everyone = false
    }

    var payload: String {
        let full = CanonicalJSON.string([
            "i": .string(instance), "h": .int(Int64(touched.head)),
            "t": .array(touched.tags.sorted().map(Value.string)),
            "p": .array(touched.principals.sorted().map(Value.string)),
        ])
        guard full.utf8.count > Self.payloadLimit else { return full }
        return CanonicalJSON.string(["i": .string(instance), "h": .int(Int64(touched.head)), "a": .bool(true)])
    }

    init?(payload: String) {
        guard let value = try? CanonicalJSON.decode(Data(payload.utf8)), let instance = value["i"]?.stringValue,
            let head = value["h"]?.intValue, head >= 0
        else { return nil }
        self.instance = instance
        touched = Touched()
        touched.head = UInt64(head)
        touched.tags = Set((value["t"]?.arrayValue ?? []).compactMap(\.stringValue))
        touched.principals = Set((value["p"]?.arrayValue ?? []).compactMap(\.stringValue))
        everyone = value["a"]?.boolValue ?? false
    }
}

/// Live fan-out across instances on one PostgreSQL: LISTENs for the notices other instances'
/// pushes send and tells this instance's live connections. A notice can be lost (the listening
/// connection drops, the instance restarts): a poll of the log head every `pollInterval` then
/// tells every connection, so a lost notice only delays a client, never loses it a change.
struct LiveFanOut: Service {
    let store: PostgresServerStore
    let live: LiveHub
    let pollInterval: Duration
    let logger: Logger

    func run() async throws {
        live.noteHead(try await store.head())
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await listen() }
                group.addTask { await poll() }
                await group.waitForAll()
            }
        }
    }

    func listen() async {
        while !Task.isCancelled {
            do {
                try await store.client.withConnection { connection in
                    try await connection.listen(on: PostgresServerStore.channel) { notices in
                        for try await notice in notices {
                            guard let notice = FanOutNotice(payload: notice.payload),
                                notice.instance != store.instance
                            else { continue }
                            if notice.everyone {
                                live.notifyEveryone(seq: notice.touched.head)
                            } else {
                                live.notify(notice.touched, seq: notice.touched.head)
                            }
                        }
                    }
                }
            } catch {
                guard !Task.isCancelled else { return }
                logger.warning("live fan-out lost its listening connection", metadata: [LogKey.error: "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    func poll() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: pollInterval)
            guard !Task.isCancelled else { return }
            do {
                let head = try await store.head()
                if head > live.highestNotified {
                    live.notifyEveryone(seq: head)
                }
            } catch {
                logger.warning("live fan-out cannot read the log head", metadata: [LogKey.error: "\(error)"])
            }
        }
    }
}
