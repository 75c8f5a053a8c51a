/// The kind of a field, carried in every encoding so that a replica merges fields it does not know.
public enum FieldKind: String, Hashable, Sendable, CaseIterable {
    case register
    case set
    case log
}

/// A field's declaration: its kind, whether a register keeps history, and whether its values are
/// personal data that erasure blanks.
public struct FieldDeclaration: Hashable, Sendable {
    public var kind: FieldKind
    public var history: Bool
    public var personal: Bool

    public init(kind: FieldKind, history: Bool = false, personal: Bool = false) {
        self.kind = kind
        self.history = history
        self.personal = personal
    }

    public static let register = FieldDeclaration(kind: .register)
    public static let historyRegister = FieldDeclaration(kind: .register, history: true)
    public static let personalRegister = FieldDeclaration(kind: .register, personal: true)
    public static let set = FieldDeclaration(kind: .set)
    public static let log = FieldDeclaration(kind: .log)
}

/// The merged state of one field.
public enum FieldState: Hashable, Sendable {
    case register(RegisterState)
    case set(ORSetState)
    case log(LogState)

    public var kind: FieldKind {
        switch self {
        case .register: .register
        case .set: .set
        case .log: .log
        }
    }
}

/// One field of a record: its state and whether its register values are personal.
public struct Field: Hashable, Sendable {
    public var personal: Bool
    public var state: FieldState

    public init(personal: Bool = false, state: FieldState) {
        self.personal = personal
        self.state = state
    }

    /// The declaration this field's state implies.
    public var declaration: FieldDeclaration {
        switch state {
        case .register(let register):
            FieldDeclaration(kind: .register, history: register.keepsHistory, personal: personal)
        case .set: .set
        case .log: .log
        }
    }

    /// Merges another state of the same field.
    public mutating func merge(_ other: Field) throws(MergeError) {
        let taken = state
        state = .set(ORSetState())  // leaves the payload uniquely referenced while it changes
        switch (taken, other.state) {
        case (.register(var mine), .register(let theirs)):
            do { try mine.merge(theirs) } catch { state = taken; throw error }
            state = .register(mine)
        case (.set(var mine), .set(let theirs)):
            do { try mine.merge(theirs) } catch { state = taken; throw error }
            state = .set(mine)
        case (.log(var mine), .log(let theirs)):
            do { try mine.merge(theirs) } catch { state = taken; throw error }
            state = .log(mine)
        default:
            state = taken
            throw MergeError(.kindMismatch, "a \(taken.kind) field met a \(other.state.kind) field")
        }
        personal = personal || other.personal
    }

    /// Merges one register write, in place: one access to the field, whatever it holds.
    /// - Parameter blank: whether the record is redacted, so that a personal value arrives as null.
    mutating func merge(
        _ write: RegisterWrite, name: String, history: Bool, personal: Bool, blank: Bool
    ) throws(MergeError) {
        guard case .register(var register) = state else {
            throw MergeError(.kindMismatch, "a \(state.kind) field written as a register")
        }
        guard register.keepsHistory == history else {
            throw MergeError(.kindMismatch, "field \(name) written with another history declaration")
        }
        if personal { self.personal = true }
        var write = write
        if blank && self.personal { write.value = .null }
        state = .log(LogState())  // leaves the register's box uniquely referenced while it changes
        defer { state = .register(register) }
        try register.merge(write)
    }

    /// Runs `body` on the register inside, in place.
    mutating func withRegister<T>(_ body: (inout RegisterState) throws(MergeError) -> T) throws(MergeError) -> T {
        guard case .register(var register) = state else {
            throw MergeError(.kindMismatch, "a \(state.kind) field written as a register")
        }
        state = .set(ORSetState())
        defer { state = .register(register) }
        return try body(&register)
    }

    mutating func withSet<T>(_ body: (inout ORSetState) throws(MergeError) -> T) throws(MergeError) -> T {
        guard case .set(var set) = state else {
            throw MergeError(.kindMismatch, "a \(state.kind) field used as a set")
        }
        state = .set(ORSetState())
        defer { state = .set(set) }
        return try body(&set)
    }

    mutating func withLog<T>(_ body: (inout LogState) throws(MergeError) -> T) throws(MergeError) -> T {
        guard case .log(var log) = state else {
            throw MergeError(.kindMismatch, "a \(state.kind) field used as a log")
        }
        state = .set(ORSetState())
        defer { state = .log(log) }
        return try body(&log)
    }

    /// Erasure: personal register values become null; log entries lose their personal members.
    mutating func blankPersonal() {
        switch state {
        case .register where personal:
            try? withRegister { register in register.blankValues() }
        case .log:
            try? withLog { log in log.blankAll() }
        default:
            break
        }
    }
}
