import ConciergeCore
import Foundation

/// Where a paged reset snapshot stands; travels to the client as an opaque token (base64url of
/// canonical JSON) and back with its next pull.
struct SnapshotPosition: Sendable {
    var epoch: String
    var reason: String
    /// The log head when the snapshot began: its cursor.
    var start: UInt64
    /// The log head when the previous page was taken: records changed after it come again.
    var seen: UInt64
    /// The last record sent from the ordered walk, `nil` before the first page.
    var last: (seq: Int64, type: String, id: String)?

    init(epoch: String, reason: String, start: UInt64, seen: UInt64) {
        self.epoch = epoch
        self.reason = reason
        self.start = start
        self.seen = seen
    }

    var token: String {
        var members: [Value] = [.string(epoch), .string(reason), .int(Int64(start)), .int(Int64(seen))]
        if let last { members += [.int(last.seq), .string(last.type), .string(last.id)] }
        return Data(CanonicalJSON.encode(.array(members))).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    init?(token: String) {
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard token.utf8.count <= 1_024, let data = Data(base64Encoded: base64),
            let members = (try? CanonicalJSON.decode(data))?.arrayValue, members.count == 4 || members.count == 7,
            let epoch = members[0].stringValue, let reason = members[1].stringValue,
            let start = members[2].intValue, let seen = members[3].intValue, start >= 0, seen >= start
        else { return nil }
        self.init(epoch: epoch, reason: reason, start: UInt64(start), seen: UInt64(seen))
        if members.count == 7 {
            guard let seq = members[4].intValue, let type = members[5].stringValue, let id = members[6].stringValue
            else { return nil }
            last = (seq, type, id)
        }
    }
}
