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
///
/// The state lives in a copy-on-write box: registers are merged millions of times a second, and
/// moving one should cost one reference count, not one per string inside.
public struct RegisterState: Hashable, Sendable {
    final class Storage: @unchecked Sendable {
        /// The winning write, inline: a plain register is one allocation.
        var latest: RegisterWrite
        /// With history, every other write, ascending by stamp; always empty without.
        var earlier: [RegisterWrite]
        let keepsHistory: Bool

        init(latest: RegisterWrite, earlier: [RegisterWrite], keepsHistory: Bool) {
            self.latest = latest
            self.earlier = earlier
            self.keepsHistory = keepsHistory
        }
    }

    private var storage: Storage

    public init(_ write: RegisterWrite, keepsHistory: Bool) {
        storage = Storage(latest: write, earlier: [], keepsHistory: keepsHistory)
    }

    /// The winning write.
    public var latest: RegisterWrite { storage.latest }

    /// Every write ever merged, ascending by stamp, when the field keeps history; `nil` otherwise.
    public var history: [RegisterWrite]? { storage.keepsHistory ? writes : nil }

    public var keepsHistory: Bool { storage.keepsHistory }

    /// The writes this state holds, ascending by stamp: the history, or just the winner.
    public var writes: [RegisterWrite] { storage.earlier + [storage.latest] }

    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            storage = Storage(latest: storage.latest, earlier: storage.earlier, keepsHistory: storage.keepsHistory)
        }
    }

    /// Merges one write.
    /// - Throws: `stampReused` when a different write with the same stamp is already here.
    public mutating func merge(_ write: RegisterWrite) throws(MergeError) {
        let latestStamp = storage.latest.stamp
        if latestStamp < write.stamp {
            makeUnique()
            if storage.keepsHistory { storage.earlier.append(storage.latest) }
            storage.latest = write
            return
        }
        if latestStamp == write.stamp {
            guard storage.latest == write else {
                throw MergeError(.stampReused, "two different writes carry stamp \(write.stamp)")
            }
            return
        }
        guard storage.keepsHistory else { return }
        var low = 0
        var high = storage.earlier.count
        while low < high {
            let middle = (low + high) / 2
            if storage.earlier[middle].stamp < write.stamp { low = middle + 1 } else { high = middle }
        }
        if low < storage.earlier.count, storage.earlier[low].stamp == write.stamp {
            guard storage.earlier[low] == write else {
                throw MergeError(.stampReused, "two different writes carry stamp \(write.stamp)")
            }
            return
        }
        makeUnique()
        storage.earlier.insert(write, at: low)
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
        makeUnique()
        storage.latest.value = .null
        for index in storage.earlier.indices { storage.earlier[index].value = .null }
    }

    public static func == (lhs: RegisterState, rhs: RegisterState) -> Bool {
        lhs.storage === rhs.storage
            || (lhs.storage.keepsHistory == rhs.storage.keepsHistory && lhs.storage.latest == rhs.storage.latest
                && lhs.storage.earlier == rhs.storage.earlier)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(storage.keepsHistory)
        hasher.combine(storage.latest)
        hasher.combine(storage.earlier)
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
