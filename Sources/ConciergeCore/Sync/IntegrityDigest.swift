import Crypto

/// A checksum of a set of records, in buckets, so that a replica can prove it holds exactly its
/// projection and fetch only the buckets that differ.
///
/// A record's bucket is its type and the first hex digit of the SHA-256 of its id (16 buckets per
/// type). A bucket's hash is the SHA-256 of its records' canonical JSON, in key order, each
/// followed by a newline. The server computes it over the caller's projection; the replica over its
/// confirmed state; after a complete pull they are equal.
public struct IntegrityDigest: Hashable, Sendable {
    public struct Bucket: Hashable, Sendable {
        public var count: Int
        /// Lower-case hex SHA-256.
        public var hash: String
    }

    /// `"<type>/<hex digit>"` to bucket; empty buckets are absent.
    public var buckets: [String: Bucket]

    public init(buckets: [String: Bucket]) { self.buckets = buckets }

    /// The bucket a record belongs to.
    public static func bucket(of key: RecordKey) -> String {
        let digest = SHA256.hash(data: Array(key.id.rawValue.utf8))
        let first = digest.withUnsafeBytes { $0[0] } >> 4
        return "\(key.type)/\(String(first, radix: 16))"
    }

    /// The digest of `records`.
    public init(records: some Sequence<Record>) {
        var grouped: [String: [Record]] = [:]
        for record in records { grouped[Self.bucket(of: record.key), default: []].append(record) }
        var buckets: [String: Bucket] = [:]
        for (name, members) in grouped {
            var hasher = SHA256()
            for record in members.sorted(by: { $0.key < $1.key }) {
                hasher.update(data: record.canonicalJSON)
                hasher.update(data: [0x0A])
            }
            let hex = hasher.finalize().map { byte in
                let text = String(byte, radix: 16)
                return byte < 16 ? "0" + text : text
            }.joined()
            buckets[name] = Bucket(count: members.count, hash: hex)
        }
        self.buckets = buckets
    }

    /// The buckets whose contents differ between two digests.
    public func differences(from other: IntegrityDigest) -> [String] {
        Set(buckets.keys).union(other.buckets.keys).filter { buckets[$0] != other.buckets[$0] }.sorted()
    }

    /// `{"buckets":{"case/3":{"count":n,"hash":"..."}}}`
    public var value: Value {
        .object([
            "buckets": .object(
                buckets.mapValues { .object(["count": .int(Int64($0.count)), "hash": .string($0.hash)]) })
        ])
    }

    public init(value: Value) throws(CodecError) {
        let reader = try ObjectReader(value, "integrity")
        var buckets: [String: Bucket] = [:]
        for (name, bucket) in try reader.object("buckets") {
            let member = try ObjectReader(bucket, "bucket")
            buckets[name] = Bucket(count: Int(try member.int("count")), hash: try member.string("hash"))
        }
        self.buckets = buckets
    }
}

extension Replica {
    /// The digest of the confirmed state: compare it with the server's after a complete pull.
    public func integrityDigest() throws -> IntegrityDigest {
        try store.read { reader in
            IntegrityDigest(records: try reader.confirmedKeys().compactMap { try reader.confirmedRecord($0) })
        }
    }
}
