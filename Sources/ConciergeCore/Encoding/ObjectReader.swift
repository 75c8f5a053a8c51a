/// Reads members of a decoded JSON object with clear errors naming the member.
struct ObjectReader {
    let members: [String: Value]
    let context: String

    init(_ value: Value, _ context: String) throws(CodecError) {
        guard case .object(let members) = value else {
            throw CodecError(.invalidValue, "\(context) must be an object")
        }
        self.members = members
        self.context = context
    }

    func value(_ key: String) throws(CodecError) -> Value {
        guard let value = members[key] else { throw CodecError(.missingMember, "\(context) lacks \"\(key)\"") }
        return value
    }

    func optional(_ key: String) -> Value? {
        guard let value = members[key], value != .null else { return nil }
        return value
    }

    func string(_ key: String) throws(CodecError) -> String {
        guard let string = try value(key).stringValue else { throw invalid(key, "a string") }
        return string
    }

    func int(_ key: String) throws(CodecError) -> Int64 {
        guard let int = try value(key).intValue else { throw invalid(key, "an integer") }
        return int
    }

    func bool(_ key: String, default defaultValue: Bool) throws(CodecError) -> Bool {
        guard let value = optional(key) else { return defaultValue }
        guard let bool = value.boolValue else { throw invalid(key, "a boolean") }
        return bool
    }

    func array(_ key: String) throws(CodecError) -> [Value] {
        guard let array = try value(key).arrayValue else { throw invalid(key, "an array") }
        return array
    }

    func object(_ key: String, default defaultValue: [String: Value]? = nil) throws(CodecError) -> [String: Value] {
        if let defaultValue, optional(key) == nil { return defaultValue }
        guard let object = try value(key).objectValue else { throw invalid(key, "an object") }
        return object
    }

    func invalid(_ key: String, _ expected: String) -> CodecError {
        CodecError(.invalidValue, "\(context).\(key) must be \(expected)")
    }
}
