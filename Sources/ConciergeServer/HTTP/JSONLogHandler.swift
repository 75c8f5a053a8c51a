import ConciergeCore
import Foundation
import Logging
import Synchronization

/// A log line per event as one JSON object (`CONCIERGE_LOG_FORMAT=json`), for log collectors:
/// `{"time","level","label","message",...metadata}`, metadata flattened to strings. What the
/// server logs never holds a token, a code or a body (the callers see to that).
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let output: Output

    /// Where lines go: standard error, one write per line, in order.
    final class Output: Sendable {
        private let lock = Mutex(())
        func write(_ line: [UInt8]) {
            lock.withLock { _ in FileHandle.standardError.write(Data(line)) }
        }
    }

    private static let shared = Output()

    public init(label: String) {
        self.label = label
        output = Self.shared
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(
        level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
        file: String, function: String, line: UInt
    ) {
        var object: [String: Value] = [
            "time": .string(Date().formatted(.iso8601)), "level": .string(level.rawValue),
            "label": .string(label), "message": .string(message.description),
        ]
        for (key, value) in metadata.merging(explicit ?? [:], uniquingKeysWith: { $1 }) {
            object[key] = .string(value.description)
        }
        output.write(CanonicalJSON.encode(.object(object)) + [10])
    }
}
