import ConciergeCore
import Foundation

/// A follower that appends one JSON line per accepted change set to a file: who changed which
/// records, when, and what kind of change, without any content (no values, no message bodies), so
/// it holds no personal data that an erasure would have to reach. For audits, and for tools that
/// tail it (a search indexer, a data warehouse).
///
/// A line: `{"author":"ben","changes":["append:timeline:message"],"records":["case/3f2a..."],
/// "role":"agent","seq":42,"set":"<replica>/<seq>"}`, keys sorted. Delivery is at least once: after
/// a crash a line may come twice (the same `seq`); a torn last line is cut off at the next start.
/// The file is created with mode 0600.
public final class AuditTrail: ChangeLogFollower, @unchecked Sendable {
    public let name = "audit-trail"
    let path: String
    /// Serialises writes: ``FollowerService`` runs one batch at a time, this guards misuse.
    private let lock = NSLock()
    private var repaired = false

    public init(path: String) {
        self.path = path
    }

    public func handle(_ sets: [LoggedChangeSet]) async throws {
        var text = ""
        for logged in sets { text += CanonicalJSON.string(Self.line(logged)) + "\n" }
        try lock.withLock { try append(Data(text.utf8)) }
    }

    /// The line of one change set.
    static func line(_ logged: LoggedChangeSet) -> Value {
        let set = logged.changeSet
        var kinds: [String] = []
        for change in set.changes {
            let kind: String
            switch change.change {
            case .write(let field, _, _, _, _, _): kind = "write:\(field)"
            case .add(let field, _, _): kind = "add:\(field)"
            case .remove(let field, _, _, _): kind = "remove:\(field)"
            case .append(let field, let entry): kind = "append:\(field):\(entry.kind)"
            case .redactEntry(let field, _, _): kind = "redactEntry:\(field)"
            case .delete: kind = "delete"
            case .redact: kind = "redact"
            }
            if !kinds.contains(kind) { kinds.append(kind) }
        }
        return .object([
            "seq": .int(Int64(logged.seq)),
            "set": .string("\(set.id.replica)/\(set.id.seq)"),
            "author": .string(set.author.principal.rawValue),
            "role": .string(set.author.role.rawValue),
            "records": .array(set.keys.map { .string("\($0.type)/\($0.id)") }),
            "changes": .array(kinds.map(Value.string)),
        ])
    }

    private func append(_ data: Data) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StoreError(.database, "cannot open the audit trail \(path): errno \(errno)")
        }
        defer { close(descriptor) }
        if !repaired {
            try cutTornLine(descriptor)
            repaired = true
        }
        try data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                guard written > 0 else { throw StoreError(.database, "writing the audit trail failed: errno \(errno)") }
                offset += written
            }
        }
        guard fsync(descriptor) == 0 else {
            throw StoreError(.database, "syncing the audit trail failed: errno \(errno)")
        }
    }

    /// A crash while a line was written leaves it torn: cut the file back to its last whole line.
    private func cutTornLine(_ descriptor: Int32) throws {
        let size = lseek(descriptor, 0, SEEK_END)
        guard size > 0 else { return }
        let contents = try Data(contentsOf: URL(fileURLWithPath: path))
        guard contents.last != UInt8(ascii: "\n") else { return }
        let keep = contents.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
        guard ftruncate(descriptor, off_t(keep)) == 0 else {
            throw StoreError(.database, "repairing the audit trail failed: errno \(errno)")
        }
    }
}
