import ConciergeCore
import Foundation
import GRDB

extension ReplicaFile {
    /// The replica's tables, read and written inside one GRDB transaction.
    struct Rows: ReplicaWriter {
        let db: Database

        func corrupt(_ what: String, _ error: (any Error)? = nil) -> ReplicaFileError {
            ReplicaFileError(.corrupt, "the replica file holds a malformed \(what)", underlying: error)
        }

        func metadata() throws -> ReplicaMetadata {
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(
                        sql:
                            "SELECT replica, principal, role, cursor, snapshot, clock, next_seq FROM replica_meta WHERE id = 1"
                    ))
            else { throw corrupt("replica (no metadata)") }
            guard let replica = ReplicaID(row["replica"] as String) else { throw corrupt("replica id") }
            var cursor: Cursor?
            if let text = row["cursor"] as String? {
                guard let parsed = Cursor(text) else { throw corrupt("cursor") }
                cursor = parsed
            }
            return ReplicaMetadata(
                replica: replica,
                author: Author(principal: PrincipalID(row["principal"] as String), role: Role(row["role"] as String)),
                cursor: cursor,
                clock: HybridLogicalClock(latest: HLC(rawValue: UInt64(bitPattern: row["clock"] as Int64))),
                nextSeq: UInt64(row["next_seq"] as Int64), snapshot: row["snapshot"])
        }

        func confirmedRecord(_ key: RecordKey) throws -> Record? {
            guard
                let bytes = try Data.fetchOne(
                    db.cachedStatement(sql: "SELECT record FROM confirmed WHERE type = ? AND id = ?"),
                    arguments: [key.type.rawValue, key.id.rawValue])
            else { return nil }
            do { return try BinaryForm.record(stored: [UInt8](bytes)) } catch { throw corrupt("record \(key)", error) }
        }

        func confirmedKeys() throws -> [RecordKey] {
            try Row.fetchAll(db.cachedStatement(sql: "SELECT type, id FROM confirmed ORDER BY type, id")).map {
                RecordKey(type: RecordType($0[0] as String), id: RecordID($0[1] as String))
            }
        }

        func outbox() throws -> [OutboxItem] {
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT seq, state, position, change_set FROM outbox ORDER BY seq")
            ).map(item)
        }

        func outbox(touching key: RecordKey) throws -> [OutboxItem] {
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT o.seq, o.state, o.position, o.change_set FROM outbox_key k
                        JOIN outbox o ON o.seq = k.seq WHERE k.type = ? AND k.id = ? ORDER BY o.seq
                        """),
                arguments: [key.type.rawValue, key.id.rawValue]
            ).map(item)
        }

        func item(_ row: Row) throws -> OutboxItem {
            let set: ChangeSet
            do { set = try ChangeSet(binary: [UInt8](row["change_set"] as Data)) } catch {
                throw corrupt("outbox set", error)
            }
            let position = (row["position"] as String?).flatMap(Cursor.init)
            let state: OutboxItem.State
            switch (row["state"] as String, position) {
            case ("pending", _): state = .pending
            case ("sent", _): state = .sent
            case ("acknowledged", .some(let position)): state = .acknowledged(position)
            case ("delivered", .some(let position)): state = .delivered(position)
            default: throw corrupt("outbox state")
            }
            return OutboxItem(changeSet: set, state: state)
        }

        func rejected() throws -> [RejectedChangeSet] {
            try Row.fetchAll(db.cachedStatement(sql: "SELECT change_set, code, message FROM rejected ORDER BY n")).map {
                row in
                do {
                    return RejectedChangeSet(
                        changeSet: try ChangeSet(binary: [UInt8](row["change_set"] as Data)),
                        error: SyncError(SyncError.Code(row["code"]), row["message"]))
                } catch { throw corrupt("rejected set", error) }
            }
        }

        func setMetadata(_ metadata: ReplicaMetadata) throws {
            try db.cachedStatement(
                sql: """
                    UPDATE replica_meta SET replica = ?, principal = ?, role = ?, cursor = ?, snapshot = ?, clock = ?,
                        next_seq = ?
                    WHERE id = 1
                    """
            ).execute(arguments: [
                metadata.replica.description, metadata.author.principal.rawValue, metadata.author.role.rawValue,
                metadata.cursor?.description, metadata.snapshot, Int64(bitPattern: metadata.clock.latest.rawValue),
                Int64(metadata.nextSeq),
            ])
        }

        func saveConfirmed(_ record: Record) throws {
            try saveConfirmed(record.key, bytes: record.binary)
        }

        /// The image is the binary form the file keeps: its bytes are stored as they arrived.
        func saveConfirmed(_ image: RecordImage, key: RecordKey) throws {
            try saveConfirmed(key, bytes: image.bytes)
        }

        /// One statement, where a look-up and then an insert would take two.
        func insertConfirmed(_ image: RecordImage, key: RecordKey) throws -> Bool {
            try db.cachedStatement(
                sql: "INSERT INTO confirmed (type, id, record) VALUES (?, ?, ?) ON CONFLICT (type, id) DO NOTHING"
            ).execute(arguments: [key.type.rawValue, key.id.rawValue, Data(image.bytes)])
            return db.changesCount > 0
        }

        func saveConfirmed(_ key: RecordKey, bytes: [UInt8]) throws {
            try db.cachedStatement(
                sql: """
                    INSERT INTO confirmed (type, id, record) VALUES (?, ?, ?)
                    ON CONFLICT (type, id) DO UPDATE SET record = excluded.record
                    """
            ).execute(arguments: [key.type.rawValue, key.id.rawValue, Data(bytes)])
        }

        func removeConfirmed(_ key: RecordKey) throws {
            try db.cachedStatement(sql: "DELETE FROM confirmed WHERE type = ? AND id = ?").execute(arguments: [
                key.type.rawValue, key.id.rawValue,
            ])
        }

        func removeAllConfirmed() throws {
            try db.execute(sql: "DELETE FROM confirmed")
        }

        func saveOutboxItem(_ item: OutboxItem) throws {
            let (state, position): (String, Cursor?) =
                switch item.state {
                case .pending: ("pending", nil)
                case .sent: ("sent", nil)
                case .acknowledged(let position): ("acknowledged", position)
                case .delivered(let position): ("delivered", position)
                }
            let seq = Int64(item.id.seq)
            let existing = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT change_set FROM outbox WHERE seq = ?"), arguments: [seq])
            let bytes = Data(item.changeSet.compactBinary())
            if let existing, (existing["change_set"] as Data) == bytes {
                // Only the state moved: the content and its keys stay.
                try db.cachedStatement(sql: "UPDATE outbox SET state = ?, position = ? WHERE seq = ?").execute(
                    arguments: [state, position?.description, seq])
                return
            }
            try db.cachedStatement(sql: "DELETE FROM outbox WHERE seq = ?").execute(arguments: [seq])
            try db.cachedStatement(
                sql: "INSERT INTO outbox (seq, replica, state, position, change_set) VALUES (?, ?, ?, ?, ?)"
            ).execute(arguments: [seq, item.id.replica.description, state, position?.description, bytes])
            let insertKey = try db.cachedStatement(
                sql: "INSERT OR IGNORE INTO outbox_key (type, id, seq) VALUES (?, ?, ?)")
            for key in item.changeSet.keys {
                try insertKey.execute(arguments: [key.type.rawValue, key.id.rawValue, seq])
            }
        }

        func removeOutboxItem(_ id: ChangeSetID) throws {
            try db.cachedStatement(sql: "DELETE FROM outbox WHERE seq = ? AND replica = ?").execute(arguments: [
                Int64(id.seq), id.replica.description,
            ])
        }

        func addRejected(_ rejected: RejectedChangeSet) throws {
            try db.cachedStatement(
                sql:
                    "INSERT INTO rejected (change_set, code, message, at) VALUES (?, ?, ?, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))"
            ).execute(arguments: [
                Data(rejected.changeSet.compactBinary()), rejected.error.code.rawValue, rejected.error.message,
            ])
        }
    }
}
