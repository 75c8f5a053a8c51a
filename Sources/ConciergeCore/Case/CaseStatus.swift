/// The status of a service case, derived from its timeline and never stored on its own.
public enum CaseStatus: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case new
    case open
    case pending
    case onHold
    case resolved
    case closed

    public var description: String { rawValue }
}

extension CaseStatus {
    /// Whether `author` may change a case from `from` to `to`.
    ///
    /// | from | to | who |
    /// |---|---|---|
    /// | new | open | staff |
    /// | open | pending, onHold, resolved | staff |
    /// | pending, onHold | open, resolved | staff |
    /// | resolved | open | the case's customer or staff |
    /// | resolved | closed | staff or the case's customer |
    /// | any non-closed | closed | the case's customer |
    ///
    /// Staff are agents, specialists, technicians and supervisors of the case's provider; the
    /// caller checks the provider.
    public static func isAllowed(from: CaseStatus, to: CaseStatus, by author: Author, caseCustomer: PrincipalID?)
        -> Bool
    {
        let isStaff = author.role.isStaff
        let isCaseCustomer = author.role == .customer && author.principal == caseCustomer
        switch (from, to) {
        case (.new, .open): return isStaff
        case (.open, .pending), (.open, .onHold), (.open, .resolved): return isStaff
        case (.pending, .open), (.pending, .resolved), (.onHold, .open), (.onHold, .resolved): return isStaff
        case (.resolved, .open): return isStaff || isCaseCustomer
        case (.resolved, .closed): return isStaff || isCaseCustomer
        case (_, .closed): return from != .closed && isCaseCustomer
        default: return false
        }
    }
}

extension CaseStatus {
    /// The statuses a case has held in merged state: `new`, and the target of each of its status
    /// changes. A status change's `from` must be one of them.
    /// - Parameter statusChanges: every `statusChange` entry of the case's timeline.
    public static func held(byStatusChanges statusChanges: [LogEntry]) -> Set<CaseStatus> {
        var held: Set<CaseStatus> = [.new]
        for entry in statusChanges where entry.kind == EntryKind.statusChange {
            if let target = entry.payload["to"]?.stringValue.flatMap(CaseStatus.init(rawValue:)) { held.insert(target) }
        }
        return held
    }
}
