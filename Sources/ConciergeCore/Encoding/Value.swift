/// A JSON-shaped value without floating-point numbers: the payload of register writes and
/// timeline entries, and the tree every encoding of the core goes through.
///
/// Floats are left out on purpose: they have no canonical text form, so ratings are integers and
/// amounts are strings.
public enum Value: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case string(String)
    case array([Value])
    case object([String: Value])
}

extension Value {
    /// The string inside, or `nil` for any other value.
    public var stringValue: String? {
        if case .string(let string) = self { return string }
        return nil
    }

    /// The integer inside, or `nil` for any other value.
    public var intValue: Int64? {
        if case .int(let int) = self { return int }
        return nil
    }

    /// The boolean inside, or `nil` for any other value.
    public var boolValue: Bool? {
        if case .bool(let bool) = self { return bool }
        return nil
    }

    /// The elements inside, or `nil` for any other value.
    public var arrayValue: [Value]? {
        if case .array(let array) = self { return array }
        return nil
    }

    /// The members inside, or `nil` for any other value.
    public var objectValue: [String: Value]? {
        if case .object(let object) = self { return object }
        return nil
    }

    /// Whether this is `.null`.
    public var isNull: Bool { self == .null }

    /// The member `key` of an object, or `nil`.
    public subscript(key: String) -> Value? {
        objectValue?[key]
    }

    /// The element at `index` of an array, or `nil` (also when out of range).
    public subscript(index: Int) -> Value? {
        guard let array = arrayValue, array.indices.contains(index) else { return nil }
        return array[index]
    }
}

extension Value: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByNilLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(arrayLiteral elements: Value...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, Value)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

/// Orders strings by their UTF-8 bytes, the order of every canonical encoding in Concierge.
@inlinable
public func utf8Precedes(_ lhs: String, _ rhs: String) -> Bool {
    var left = lhs.utf8.makeIterator()
    var right = rhs.utf8.makeIterator()
    while true {
        switch (left.next(), right.next()) {
        case (nil, nil): return false
        case (nil, _): return true
        case (_, nil): return false
        case (let l?, let r?):
            if l != r { return l < r }
        }
    }
}
