import Crypto
import Foundation

/// The follow-up case of a closed case.
public enum FollowUp {
    /// `UUIDv5(namespace: caseID, name: "follow-up")` in lower case for a case whose id is a
    /// UUID; for any other id (`my-case-1`), `UUIDv5(namespace: ``otherIDs``, name: caseID)`.
    public static func caseID(for caseID: RecordID) -> RecordID {
        let uuid =
            UUID(uuidString: caseID.rawValue).map { uuidV5(namespace: $0, name: "follow-up") }
            ?? uuidV5(namespace: otherIDs, name: caseID.rawValue)
        return RecordID(uuid.uuidString.lowercased())
    }

    /// The namespace of follow-up ids of cases whose id is no UUID:
    /// `UUIDv5(NAMESPACE_URL, "concierge:follow-up")`.
    public static let otherIDs = UUID(uuidString: "c33e3f79-1eed-5e6b-b949-be53ef6dd053")!

    /// A name-based UUID (RFC 9562, version 5: SHA-1).
    public static func uuidV5(namespace: UUID, name: String) -> UUID {
        var hasher = Insecure.SHA1()
        withUnsafeBytes(of: namespace.uuid) { hasher.update(bufferPointer: $0) }
        hasher.update(data: Array(name.utf8))
        var bytes = Array(hasher.finalize().prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            ))
    }
}
