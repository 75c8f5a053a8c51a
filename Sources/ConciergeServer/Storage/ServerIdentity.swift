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

    /// The `server_meta` keys it is kept under.
    static let metaKeys = ["server_replica", "server_hlc", "server_seq"]

    /// From its `server_meta` values; a new identity when there are none.
    init(meta: [String: String]) {
        replica = meta["server_replica"].flatMap(ReplicaID.init) ?? .random()
        clock = HybridLogicalClock(latest: meta["server_hlc"].flatMap(HLC.init) ?? HLC(rawValue: 0))
        seq = meta["server_seq"].flatMap(UInt64.init) ?? 0
    }

    /// Its `server_meta` values.
    var meta: [(key: String, value: String)] {
        [
            ("server_replica", replica.description), ("server_hlc", clock.latest.description),
            ("server_seq", String(seq)),
        ]
    }

    static func load(in db: Database) throws -> ServerIdentity {
        var meta: [String: String] = [:]
        for key in metaKeys {
            meta[key] = try String.fetchOne(
                db.cachedStatement(sql: "SELECT value FROM server_meta WHERE key = ?"), arguments: [key])
        }
        return ServerIdentity(meta: meta)
    }

    mutating func nextSeq() -> UInt64 {
        seq += 1
        return seq
    }

    func save(in db: Database) throws {
        for (key, value) in meta {
            try db.cachedExecute(
                sql:
                    "INSERT INTO server_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                arguments: [key, value])
        }
    }
}
