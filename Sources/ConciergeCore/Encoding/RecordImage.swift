/// A whole record in the binary form (``Record/binary``), as a server keeps it ready for snapshots.
///
/// A snapshot page carries such images as they are stored, and a replica file stores them as they
/// arrive: the record is neither decoded into values nor encoded again on the server, and not
/// encoded again on the replica. The receiving side still decodes each image once, to check it and
/// to merge it where the replica already holds the record.
public struct RecordImage: Hashable, Sendable {
    /// The record in the binary form.
    public let bytes: [UInt8]
    /// The record, once decoded; `nil` where only the bytes are at hand (on the server).
    public let record: Record?

    /// An image of stored bytes, not decoded.
    public init(bytes: [UInt8]) {
        self.bytes = bytes
        record = nil
    }

    /// The image of `record`.
    public init(_ record: Record) {
        bytes = record.binary
        self.record = record
    }

    /// Decodes `bytes`, keeping both.
    /// - Throws: ``CodecError`` `malformedBinary` when the bytes are not one record in the binary form.
    public init(decoding bytes: [UInt8]) throws(CodecError) {
        self.bytes = bytes
        record = try Record(binary: bytes)
    }

    /// The record: the decoded one, or decoded now.
    public func decode() throws(CodecError) -> Record {
        if let record { return record }
        return try Record(binary: bytes)
    }

    // Equal images have equal bytes, decoded or not.
    public static func == (lhs: RecordImage, rhs: RecordImage) -> Bool { lhs.bytes == rhs.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }
}
