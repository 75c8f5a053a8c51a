/// A whole record in the binary form (``Record/binary``), as a server keeps it ready for snapshots.
///
/// A snapshot page carries such images as they are stored, and a replica file stores them as they
/// arrive: the record is neither decoded into values nor encoded again on the server, and not
/// encoded again on the replica. The receiving side checks each image once, where the answer is
/// decoded, without building the record (``init(checking:)``); it keeps only the bytes and what
/// applying needs (the key and the largest stamp). A replica that already holds the record decodes
/// the image to merge it.
public struct RecordImage: Hashable, Sendable {
    /// What applying an image needs besides its bytes.
    public struct Checked: Hashable, Sendable {
        public let key: RecordKey
        public let largestStamp: Stamp?
    }

    /// The record in the binary form.
    public let bytes: [UInt8]
    /// Set once the bytes were checked; `nil` where only the bytes are at hand (on the
    /// server, which sends what it stored without decoding it).
    public let checked: Checked?

    /// An image of stored bytes, not decoded.
    public init(bytes: [UInt8]) {
        self.bytes = bytes
        checked = nil
    }

    /// The image of `record`.
    public init(_ record: Record) {
        bytes = record.binary
        checked = Checked(key: record.key, largestStamp: record.largestStamp)
    }

    /// The record, decoded.
    public func decode() throws(CodecError) -> Record { try Record(binary: bytes) }

    /// What the check of the bytes found (checked now unless they were: ``init(checking:)``).
    public func checking() throws(CodecError) -> Checked {
        if let checked { return checked }
        return try RecordImage(checking: bytes).checked!
    }

    // Equal images have equal bytes, checked or not.
    public static func == (lhs: RecordImage, rhs: RecordImage) -> Bool { lhs.bytes == rhs.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }
}
