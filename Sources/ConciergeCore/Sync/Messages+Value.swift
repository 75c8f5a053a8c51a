// The JSON shapes of the sync protocol's messages; docs/protocol.md lists them. Decoders ignore
// members they do not know, so an older peer reads a newer one's messages.

extension SyncError {
    /// `{"code":"...","message":"..."}`, the body of every error answer under `"error"`.
    public var value: Value {
        .object(["code": .string(code.rawValue), "message": .string(message)])
    }

    public init(value: Value) throws(CodecError) {
        let reader = try ObjectReader(value, "error")
        self.init(Code(try reader.string("code")), try reader.string("message"))
    }
}

extension Cursor {
    /// The cursor as a JSON string, `"epoch:seq"`.
    public var value: Value { .string(description) }

    public init(value: Value) throws(CodecError) {
        guard let text = value.stringValue, let cursor = Cursor(text) else {
            throw CodecError(.invalidValue, "cursor must be a string \"epoch:seq\"")
        }
        self = cursor
    }
}

extension PushRequest {
    /// `{"changeSets":[...]}`
    public var value: Value { .object(["changeSets": .array(changeSets.map(\.value))]) }

    public init(value: Value) throws(CodecError) {
        let reader = try ObjectReader(value, "push")
        var sets: [ChangeSet] = []
        for set in try reader.array("changeSets") { sets.append(try ChangeSet(value: set)) }
        self.init(changeSets: sets)
    }
}

extension PushOutcome {
    /// `{"replica","seq","status","position"?,"error"?}`
    public var value: Value {
        var members: [String: Value] = [
            "replica": .string(id.replica.description), "seq": .int(Int64(id.seq)), "status": .string(status.rawValue),
        ]
        if let position { members["position"] = position.value }
        if let error { members["error"] = error.value }
        return .object(members)
    }

    public init(value: Value) throws(CodecError) {
        let reader = try ObjectReader(value, "outcome")
        guard let replica = ReplicaID(try reader.string("replica")) else { throw reader.invalid("replica", "a UUID") }
        let seq = try reader.int("seq")
        guard seq >= 0 else { throw reader.invalid("seq", "a non-negative integer") }
        guard let status = Status(rawValue: try reader.string("status")) else {
            throw reader.invalid("status", "accepted, duplicate or rejected")
        }
        let position = try reader.optional("position").map { (value) throws(CodecError) in try Cursor(value: value) }
        let error = try reader.optional("error").map { (value) throws(CodecError) in try SyncError(value: value) }
        switch status {
        case .accepted, .duplicate:
            guard position != nil else { throw reader.invalid("position", "present when accepted") }
        case .rejected: guard error != nil else { throw reader.invalid("error", "present when rejected") }
        }
        self.init(id: ChangeSetID(replica: replica, seq: UInt64(seq)), status: status, position: position, error: error)
    }
}

extension PushResponse {
    /// `{"outcomes":[...],"serverMillis":n}`
    public var value: Value {
        .object(["outcomes": .array(outcomes.map(\.value)), "serverMillis": .int(Int64(clamping: serverMillis))])
    }

    public init(value: Value) throws(CodecError) {
        let reader = try ObjectReader(value, "pushResponse")
        var outcomes: [PushOutcome] = []
        for outcome in try reader.array("outcomes") { outcomes.append(try PushOutcome(value: outcome)) }
        let millis = try reader.int("serverMillis")
        guard millis >= 0 else { throw reader.invalid("serverMillis", "a non-negative integer") }
        self.init(outcomes: outcomes, serverMillis: UInt64(millis))
    }
}

extension PullEvent {
    /// `{"type":"changeSet","changeSet":{...}}`, `{"type":"enter","record":{...}}` or
    /// `{"type":"leave","recordType":"...","id":"..."}`
    public var value: Value {
        switch self {
        case .changeSet(let set): .object(["type": "changeSet", "changeSet": set.value])
        case .enter(let record): .object(["type": "enter", "record": record.value])
        case .leave(let key):
            .object(["type": "leave", "recordType": .string(key.type.rawValue), "id": .string(key.id.rawValue)])
        }
    }

    public init(value: Value) throws(CodecError) {
        let reader = try ObjectReader(value, "event")
        switch try reader.string("type") {
        case "changeSet": self = .changeSet(try ChangeSet(value: reader.value("changeSet")))
        case "enter": self = .enter(try Record(value: reader.value("record")))
        case "leave":
            self = .leave(
                RecordKey(type: RecordType(try reader.string("recordType")), id: RecordID(try reader.string("id"))))
        default: throw reader.invalid("type", "changeSet, enter or leave")
        }
    }
}

extension PullResponse {
    /// `{"kind":"page","events":[...],"cursor":"e:n","hasMore":bool}` or
    /// `{"kind":"reset","records":[...],"cursor":"e:n","reason":"...","continues":bool,"more":"token"|null}`
    ///
    /// JSON has no images: they are decoded into `records`. Call ``inliningImages()`` first to have
    /// an image that does not decode throw; here it would be left out.
    public var value: Value {
        switch self {
        case .page(let page):
            .object([
                "kind": "page", "events": .array(page.events.map(\.value)), "cursor": page.cursor.value,
                "hasMore": .bool(page.hasMore),
            ])
        case .reset(let snapshot):
            .object([
                "kind": "reset",
                "records": .array(
                    snapshot.records.map(\.value) + snapshot.images.compactMap { try? $0.decode().value }),
                "cursor": snapshot.cursor.value,
                "reason": .string(snapshot.reason), "continues": .bool(snapshot.continues),
                "more": snapshot.more.map(Value.string) ?? .null,
            ])
        }
    }

    public init(value: Value) throws(CodecError) {
        let reader = try ObjectReader(value, "pullResponse")
        let cursor = try Cursor(value: reader.value("cursor"))
        switch try reader.string("kind") {
        case "page":
            var events: [PullEvent] = []
            for event in try reader.array("events") { events.append(try PullEvent(value: event)) }
            guard let hasMore = try reader.value("hasMore").boolValue else {
                throw reader.invalid("hasMore", "a boolean")
            }
            self = .page(PullPage(events: events, cursor: cursor, hasMore: hasMore))
        case "reset":
            var records: [Record] = []
            for record in try reader.array("records") { records.append(try Record(value: record)) }
            let more = try reader.optional("more")
            guard more == nil || more?.stringValue != nil else { throw reader.invalid("more", "a token or null") }
            self = .reset(
                ResetSnapshot(
                    records: records, cursor: cursor, reason: try reader.string("reason"),
                    continues: try reader.optional("continues")?.boolValue ?? false, more: more?.stringValue))
        default:
            throw reader.invalid("kind", "page or reset")
        }
    }
}
