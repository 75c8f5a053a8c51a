import ConciergeCore
import Foundation

/// The rows a group of pushes has yet to write; a later write of the same row replaces an earlier
/// one. Both engines write them; SQLite also reads them, laid over the committed rows, while they
/// are being written (``SQLitePushStore``).
struct PendingRows: Sendable {
    struct Log: Sendable {
        var seq: Int64
        var replica: String
        var setSeq: Int64
        var changeSet: [UInt8]
    }

    struct RecordRow: Sendable {
        var type: String
        var id: String
        var deleted: String?
        var redacted: String?
        /// The audience as the engine stores it (``PushStore/audienceText(_:)``).
        var audience: String
        var lastSeq: Int64
    }

    struct FieldKey: Hashable, Sendable {
        var type: String
        var id: String
        var field: String
    }

    struct EntryKey: Hashable, Sendable {
        var type: String
        var id: String
        var field: String
        var entryID: String
    }

    struct AudienceRow: Hashable, Sendable {
        var tag: String
        var seq: Int64
        var key: RecordKey
    }

    struct ScopeRow: Hashable, Sendable {
        var principal: String
        var seq: Int64
        var kind: String
        var key: RecordKey
    }

    struct Outcome: Sendable {
        var replica: String
        var setSeq: Int64
        var hash: Data
        var status: String
        var code: String?
        var message: String?
        var logSeq: Int64?

        init(_ id: ChangeSetID, _ outcome: StoredOutcome) {
            replica = id.replica.description
            setSeq = Int64(bitPattern: id.seq)
            hash = outcome.hash
            status = outcome.status
            code = outcome.code
            message = outcome.message
            logSeq = outcome.logSeq
        }
    }

    var log: [Log] = []
    var records: [RecordKey: RecordRow] = [:]
    var fields: [FieldKey: Data] = [:]
    var entries: [EntryKey: (kind: String, state: Data)] = [:]
    var audience: Set<AudienceRow> = []
    var scope: Set<ScopeRow> = []
    var outcomes: [Outcome] = []
    /// Records whose snapshot image an erasure removes.
    var erasedImages: Set<RecordKey> = []
    /// `server_meta` values to save (the server's identity, after it made a follow-up set).
    var serverMeta: [String: String] = [:]

    var isEmpty: Bool {
        log.isEmpty && records.isEmpty && fields.isEmpty && entries.isEmpty && audience.isEmpty && scope.isEmpty
            && outcomes.isEmpty && erasedImages.isEmpty && serverMeta.isEmpty
    }

    mutating func add(_ writes: RecordRows.Writes, seq: Int64, audienceText: ([String]) -> String) {
        let key = RecordKey(type: RecordType(writes.type), id: RecordID(writes.id))
        records[key] = RecordRow(
            type: writes.type, id: writes.id, deleted: writes.deleted, redacted: writes.redacted,
            audience: audienceText(writes.audience), lastSeq: seq)
        for field in writes.fields {
            fields[FieldKey(type: writes.type, id: writes.id, field: field.name)] = field.state
        }
        for entry in writes.entries {
            entries[EntryKey(type: writes.type, id: writes.id, field: entry.field, entryID: entry.entryID)] = (
                entry.kind, entry.state
            )
        }
    }

    /// `{"a","b"}`, every element quoted, and backslashes and quotes in it escaped. (It runs for
    /// every record a push writes, inside the push's transaction: bytes, not string searches.)
    static func arrayLiteral(_ elements: [String]) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(elements.reduce(2) { $0 + $1.utf8.count + 3 })
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            for byte in element.utf8 {
                if byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\"") { bytes.append(UInt8(ascii: "\\")) }
                bytes.append(byte)
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }
}
