import ConciergeCore
import Foundation
import GRDB

/// The server as an author: its own replica id and clock, for the change sets it makes itself
/// (follow-up cases). Kept in `server_meta`, so stamps stay unique across restarts.
struct ServerIdentity {
    static let author = Author(principal: "concierge-server", role: .system)

    var replica: ReplicaID
    var clock: HybridLogicalClock
    var seq: UInt64

    static func load(in db: Database) throws -> ServerIdentity {
        let replica = try String.fetchOne(
            db.cachedStatement(sql: "SELECT value FROM server_meta WHERE key = 'server_replica'")
        )
        .flatMap(ReplicaID.init)
        let hlc = try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM server_meta WHERE key = 'server_hlc'"))
            .flatMap(
                HLC.init)
        let seq = try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM server_meta WHERE key = 'server_seq'"))
            .flatMap(
                UInt64.init)
        return ServerIdentity(
            replica: replica ?? .random(), clock: HybridLogicalClock(latest: hlc ?? HLC(rawValue: 0)), seq: seq ?? 0)
    }

    mutating func nextStamp() -> Stamp {
        Stamp(hlc: clock.tick(wallMillis: UInt64(Date().timeIntervalSince1970 * 1000)), replica: replica)
    }

    mutating func nextSeq() -> UInt64 {
        seq += 1
        return seq
    }

    func save(in db: Database) throws {
        for (key, value) in [
            ("server_replica", replica.description), ("server_hlc", clock.latest.description),
            ("server_seq", String(seq)),
        ] {
            try db.cachedExecute(
                sql:
                    "INSERT INTO server_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                arguments: [key, value])
        }
    }
}
