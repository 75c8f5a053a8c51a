import ConciergeCore

/// Builds case records entry by entry with explicit stamps, for rule tests.
struct CaseBuilder {
    static let customer = Author(principal: "cust-1", role: .customer)
    static let otherCustomer = Author(principal: "cust-2", role: .customer)
    static let agent = Author(principal: "agent-1", role: .agent)
    static let integration = Author(principal: "mail-gateway", role: .integration)
    static let replica = ReplicaID("00000000-0000-4000-8000-000000000001")!

    var record = Record(key: RecordKey(type: .serviceCase, id: "6f1c2f9e-3b0d-4a55-9e43-1f2d3c4b5a69"))
    var millis: UInt64 = 1_000

    init() {
        try! record.apply(
            .write(
                field: CaseFields.customer, value: "cust-1", base: nil, stamp: nextStamp(), history: false,
                personal: false),
            by: Self.agent)
    }

    mutating func nextStamp() -> Stamp {
        millis += 1
        return Stamp(hlc: HLC(millis: millis), replica: Self.replica)
    }

    @discardableResult
    mutating func append(
        _ kind: String, by author: Author, id: String? = nil, payload: [String: Value] = [:],
        personal: [String: Value] = [:]
    ) throws -> EntryID {
        let entryID = EntryID(id ?? "e\(millis + 1)")
        try record.apply(
            .append(
                field: CaseFields.timeline,
                entry: NewEntry(id: entryID, stamp: nextStamp(), kind: kind, payload: payload, personal: personal)),
            by: author)
        return entryID
    }

    mutating func status(_ from: CaseStatus, _ to: CaseStatus, by author: Author = agent) throws {
        try append(
            EntryKind.statusChange, by: author, payload: ["from": .string(from.rawValue), "to": .string(to.rawValue)])
    }

    mutating func message(by author: Author = customer, direction: String = MessageDirection.inbound) throws {
        try append(
            EntryKind.message, by: author, payload: ["channel": "app", "direction": .string(direction)],
            personal: ["body": "hi"])
    }

    var serviceCase: ServiceCase { ServiceCase(record)! }
}
