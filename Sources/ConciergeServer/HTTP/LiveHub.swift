import ConciergeCore
import Foundation
import Synchronization

/// The live connections of this server instance, and who hears about which change.
///
/// A connection is told `{"type":"changed","seq":n}` when a push commits a change whose audience
/// meets the connection's tags, or that moves a record into or out of its principal's scope. It
/// then pulls. Notices are coalesced: a slow connection gets only the newest.
public final class LiveHub: Sendable {
    struct Listener: Sendable {
        var principal: PrincipalID
        var tags: Set<String>
        var notices: AsyncStream<UInt64>.Continuation
    }

    let listeners: Mutex<[UUID: Listener]> = Mutex([:])
    /// The highest log position connections were told about (or the head at start).
    let highest = Mutex<UInt64>(0)
    let metrics: ServerMetrics

    init(metrics: ServerMetrics) {
        self.metrics = metrics
    }

    /// The live connections open now.
    public var connectionCount: Int { listeners.withLock { $0.count } }

    /// Registers a connection; the stream yields the log positions to pull up to.
    func subscribe(_ principal: Principal) -> (id: UUID, notices: AsyncStream<UInt64>) {
        let (stream, continuation) = AsyncStream.makeStream(of: UInt64.self, bufferingPolicy: .bufferingNewest(1))
        let id = UUID()
        let count = listeners.withLock { listeners in
            listeners[id] = Listener(principal: principal.id, tags: principal.tags, notices: continuation)
            return listeners.count
        }
        metrics.liveClients.set(Double(count))
        return (id, stream)
    }

    func unsubscribe(_ id: UUID) {
        let count = listeners.withLock { listeners in
            listeners.removeValue(forKey: id)?.notices.finish()
            return listeners.count
        }
        metrics.liveClients.set(Double(count))
    }

    var highestNotified: UInt64 { highest.withLock { $0 } }

    /// Notes a log position every connection already knows about.
    func noteHead(_ seq: UInt64) {
        highest.withLock { $0 = max($0, seq) }
    }

    /// Tells every connection that the log moved to `seq` (after a lost notice, or one too large
    /// to say whom it concerns).
    func notifyEveryone(seq: UInt64) {
        noteHead(seq)
        listeners.withLock { listeners in
            for listener in listeners.values { listener.notices.yield(seq) }
        }
    }

    /// Tells the connections concerned that the log moved to `seq`.
    func notify(_ touched: Touched, seq: UInt64) {
        noteHead(seq)
        guard !touched.tags.isEmpty || !touched.principals.isEmpty else { return }
        listeners.withLock { listeners in
            for listener in listeners.values
            where touched.principals.contains(listener.principal.rawValue)
                || !listener.tags.isDisjoint(with: touched.tags)
            {
                listener.notices.yield(seq)
            }
        }
    }

    /// Closes every connection (at shutdown).
    func closeAll() {
        listeners.withLock { listeners in
            for listener in listeners.values { listener.notices.finish() }
        }
    }
}
