/// A whole record in the binary form (``Record/binary``), as a server keeps it ready for snapshots.
///
/// A snapshot page carries such images as they are stored, and a replica file stores them as they
/// arrive: the record is neither decoded into values nor encoded again on the server, and not
/// encoded again on the replica. The receiving side decodes each image once, where the answer is
/// decoded, to check it; it keeps only the bytes and what applying needs (the key and the largest
/// stamp), so that the decoded values are freed there and not where the replica writes. A replica
/// that already holds the record decodes the image again to merge it.
public struct RecordImage: Hashable, Sendable {
    /// What applying an image needs besides its bytes.
    public struct Checked: Hashable, Sendable {
        public let key: RecordKey
        public let largestStamp: Stamp?
    }

    /// The record in the binary form.
    public let bytes: [UInt8]
    /// Set once the bytes were decoded and checked; `nil` where only the bytes are at hand (on the
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

    /// Decodes `bytes` to check them.
    /// - Throws: ``CodecError`` `malformedBinary` when the bytes are not one record in the binary form.
    public init(decoding bytes: [UInt8]) throws(CodecError) {
        let record = try Record(binary: bytes)
        self.bytes = bytes
        checked = Checked(key: record.key, largestStamp: record.largestStamp)
    }

    /// The record, decoded.
    public func decode() throws(CodecError) -> Record { try Record(binary: bytes) }

    /// The image with its bytes checked (decoded now unless they were).
    public func checking() throws(CodecError) -> Checked {
        if let checked { return checked }
        let record = try decode()
        return Checked(key: record.key, largestStamp: record.largestStamp)
    }

    // Equal images have equal bytes, checked or not.
    public static func == (lhs: RecordImage, rhs: RecordImage) -> Bool { lhs.bytes == rhs.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }
}
