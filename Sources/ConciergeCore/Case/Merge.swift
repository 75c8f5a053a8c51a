/// Merges of two records that are one: two customer records of one person (`profile`), or two cases
/// about one problem (`case`).
///
/// A merge is the register `mergedInto` on the merged record (with history: who merged, when and
/// why); undoing it writes null. Nothing moves and nothing is deleted: reading follows the
/// redirects to their end (``Redirects``), and views of the survivor show the merged records'
/// timelines too (``MergedCases``).
public enum MergeFields {
    /// On `case` and `profile`: a ``MergeMarker`` while merged, null once undone.
    public static let mergedInto = "mergedInto"
}

/// Where a merged record points, and why: the value of `mergedInto`.
public struct MergeMarker: Hashable, Sendable {
    /// The record it was merged into (of the same type).
    public var into: RecordID
    public var reason: String?

    public init(into: RecordID, reason: String? = nil) {
        self.into = into
        self.reason = reason
    }

    /// The marker a register value holds; `nil` for null (undone) or a value of another shape.
    public init?(_ value: Value?) {
        guard let object = value?.objectValue, let into = object["into"]?.stringValue, !into.isEmpty else {
            return nil
        }
        self.into = RecordID(into)
        self.reason = object["reason"]?.stringValue
    }

    /// `{"into": id, "reason": text}`.
    public var value: Value {
        var object: [String: Value] = ["into": .string(into.rawValue)]
        if let reason { object["reason"] = .string(reason) }
        return .object(object)
    }
}

/// Following merges to their end.
public enum Redirects {
    /// The record that `id` reads as: follow `mergedInto` until a record that is not merged. When
    /// the path runs into a cycle (A into B and B into A, written at once on two replicas, or a
    /// longer one), the survivor is the smallest id of the cycle (by its UTF-8 bytes), so every
    /// replica holding the same state reads the same survivor whatever order the merges came in.
    /// - Parameter mergedInto: where a record points; `nil` when it is not merged.
    public static func survivor(of id: RecordID, mergedInto: (RecordID) -> RecordID?) -> RecordID {
        var path: [RecordID] = [id]
        var position: [RecordID: Int] = [id: 0]
        var current = id
        while let next = mergedInto(current), next != current {
            if let start = position[next] {
                return path[start...].min()!
            }
            position[next] = path.count
            path.append(next)
            current = next
        }
        return current
    }
}

extension Record {
    /// Where this record was merged into (``MergeMarker``), `nil` when it is not merged.
    public var mergeMarker: MergeMarker? { MergeMarker(value(MergeFields.mergedInto)) }
}

/// The cases a replica holds, read through their merges: which case each one reads as, and the
/// timeline of a survivor with the entries of the cases merged into it.
public struct MergedCases: Sendable {
    public let cases: [RecordID: ServiceCase]

    public init(_ cases: [ServiceCase]) {
        self.cases = Dictionary(cases.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The case `id` reads as (itself when it is not merged). A survivor this replica does not
    /// hold is still named.
    public func survivor(of id: RecordID) -> RecordID {
        Redirects.survivor(of: id) { cases[$0]?.record.mergeMarker?.into }
    }

    /// Whether `id` reads as another case.
    public func isMerged(_ id: RecordID) -> Bool { survivor(of: id) != id }

    /// The cases that read as `survivor`, itself excluded, by id.
    public func merged(into survivor: RecordID) -> [ServiceCase] {
        cases.values.filter { $0.id != survivor && self.survivor(of: $0.id) == survivor }
            .sorted { $0.id < $1.id }
    }

    /// The survivor's timeline with the timelines of the cases merged into it, in the order of
    /// `(stamp, entryID)`; each entry names the case it is stored on.
    public func timeline(of survivor: RecordID) -> [(case: RecordID, entry: LogEntry)] {
        let family = (cases[survivor].map { [$0] } ?? []) + merged(into: survivor)
        return family.flatMap { serviceCase in serviceCase.timeline.map { (serviceCase.id, $0) } }
            .sorted { LogEntry.precedes($0.entry, $1.entry) }
    }
}
