/// One write to a register field.
public struct RegisterWrite: Hashable, Sendable {
    /// The write's own stamp; the largest stamp wins.
    public var stamp: Stamp
    /// The stamp of the value the writer saw, `nil` when the field was unset. Writes with the same
    /// base were made concurrently.
    public var base: Stamp?
    public var value: Value
    public var author: Author

    public init(stamp: Stamp, base: Stamp?, value: Value, author: Author) {
        self.stamp = stamp
        self.base = base
        self.value = value
        self.author = author
    }
}

/// A last-writer-wins register, optionally keeping a grow-only history of every write.
///
/// **Rule**: the write with the largest stamp wins. Fields declared with history keep every write
/// `(stamp, base, value, author)`, from which the conflict view is computed when read.
public struct RegisterState: Hashable, Sendable {
    /// The winning write.
    public private(set) var latest: RegisterWrite
    /// Every write ever merged, ascending by stamp, when the field keeps history; `nil` otherwise.
    public private(set) var history: [RegisterWrite]?

    public init(_ write: RegisterWrite, keepsHistory: Bool) {
        self.latest = write
        self.history = keepsHistory ? [write] : nil
    }

    public var keepsHistory: Bool { history != nil }

    /// The writes this state holds: the history, or just the winner.
    public var writes: [RegisterWrite] { history ?? [latest] }

    /// Merges one write.
    /// - Throws: `stampReused` when a different write with the same stamp is already here.
    public mutating func merge(_ write: RegisterWrite) throws(MergeError) {
        guard history != nil else {
            if latest.stamp < write.stamp {
                latest = write
            } else if latest.stamp == write.stamp, latest != write {
                throw MergeError(.stampReused, "two different writes carry stamp \(write.stamp)")
            }
            return
        }
        var writes = history!
        history = nil
        defer { history = writes }
        if let last = writes.last, last.stamp < write.stamp {
            writes.append(write)
            latest = write
            return
        }
        var low = 0
        var high = writes.count
        while low < high {
            let middle = (low + high) / 2
            if writes[middle].stamp < write.stamp { low = middle + 1 } else { high = middle }
        }
        if low < writes.count, writes[low].stamp == write.stamp {
            if writes[low] != write {
                throw MergeError(.stampReused, "two different writes carry stamp \(write.stamp)")
            }
            return
        }
        writes.insert(write, at: low)
        latest = writes[writes.count - 1]
    }

    /// Merges another state of the same register.
    public mutating func merge(_ other: RegisterState) throws(MergeError) {
        guard keepsHistory == other.keepsHistory else {
            throw MergeError(.kindMismatch, "a register with history met one without")
        }
        var copy = self
        for write in other.writes { try copy.merge(write) }
        self = copy
    }

    /// Sets every value to null: the erasure of a personal field.
    mutating func blankValues() {
        latest.value = .null
        if var writes = history {
            history = nil
            for index in writes.indices { writes[index].value = .null }
            history = writes
        }
    }
}

/// A group of concurrent writes to one field: two or more writes with the same base and different
/// values. Computed when read, never stored.
public struct RegisterConflict: Hashable, Sendable {
    /// The base all writes of the group saw.
    public var base: Stamp?
    /// The writes of the group, ascending by stamp.
    public var writes: [RegisterWrite]
    /// The write that was kept: the largest stamp of the group.
    public var kept: RegisterWrite { writes[writes.count - 1] }
}

extension RegisterState {
    /// The "changed concurrently, this value kept" view over the history: every group of two or
    /// more writes with the same base and different values, ordered by the kept write's stamp.
    public var conflicts: [RegisterConflict] {
        guard let history else { return [] }
        var groups: [Stamp?: [RegisterWrite]] = [:]
        for write in history { groups[write.base, default: []].append(write) }
        return groups.compactMap { base, writes -> RegisterConflict? in
            guard writes.count > 1, Set(writes.map(\.value)).count > 1 else { return nil }
            return RegisterConflict(base: base, writes: writes)
        }
        .sorted { $0.kept.stamp < $1.kept.stamp }
    }
}
