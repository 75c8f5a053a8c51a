// A change set's canonical JSON written straight from the set, without building its tree first:
// the server hashes every set it receives, and building the tree (a dictionary per change, sorted
// afterwards) was the largest part of its work per write. The bytes are exactly those of
// `CanonicalJSON.encode(set.value)`; a property test keeps the two equal.

extension ChangeSet {
    /// The set's canonical JSON bytes; its content hash is the SHA-256 of these.
    public var canonicalJSON: [UInt8] {
        var json = CanonicalJSONWriter()
        json.out.reserveCapacity(128 + 320 * changes.count)
        // Every object's keys below are written in their canonical (UTF-8 byte) order.
        json.raw(#"{"author":"#)
        json.author(author)
        json.raw(#","changes":["#)
        for (index, change) in changes.enumerated() {
            if index > 0 { json.raw(",") }
            json.change(change)
        }
        json.raw(#"],"replica":""#)
        id.replica.appendText(to: &json.out)
        json.raw(#"","schemaVersion":"#)
        CanonicalJSON.writeInteger(Int64(schemaVersion), into: &json.out)
        json.raw(#","seq":"#)
        CanonicalJSON.writeInteger(Int64(id.seq), into: &json.out)
        json.raw("}")
        return json.out
    }
}

/// Appends canonical JSON for the parts of a change set, each object's keys in sorted order.
struct CanonicalJSONWriter {
    var out: [UInt8] = []

    mutating func raw(_ text: StaticString) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func string(_ text: String) { CanonicalJSON.writeString(text, into: &out) }

    mutating func value(_ value: Value) { CanonicalJSON.write(value, into: &out) }

    /// `{"principal":…,"role":…}`
    mutating func author(_ author: Author) {
        raw(#"{"principal":"#)
        string(author.principal.rawValue)
        raw(#","role":"#)
        string(author.role.rawValue)
        raw("}")
    }

    /// `{"hlc":"<decimal>","replica":"<uuid>"}`
    mutating func stamp(_ stamp: Stamp) {
        raw(#"{"hlc":""#)
        CanonicalJSON.writeUnsigned(stamp.hlc.rawValue, into: &out)
        raw(#"","replica":""#)
        stamp.replica.appendText(to: &out)
        raw(#""}"#)
    }

    /// The keys of each operation, sorted: the record's `type` and `id` fall among the others.
    mutating func change(_ recordChange: RecordChange) {
        let key = recordChange.key
        switch recordChange.change {
        case .write(let field, let value, let base, let stamp, let history, let personal):
            raw(#"{"base":"#)
            if let base { self.stamp(base) } else { raw("null") }
            raw(#","field":"#)
            string(field)
            raw(history ? #","history":true,"id":"# : #","history":false,"id":"#)
            string(key.id.rawValue)
            raw(personal ? #","op":"write","personal":true,"stamp":"# : #","op":"write","personal":false,"stamp":"#)
            self.stamp(stamp)
            raw(#","type":"#)
            string(key.type.rawValue)
            raw(#","value":"#)
            self.value(value)
            raw("}")
        case .add(let field, let element, let stamp):
            elementAndField(element, field)
            idOpStampType(key, #","op":"add","stamp":"#, stamp)
        case .remove(let field, let element, let observed, let stamp):
            elementAndField(element, field)
            raw(#""id":"#)
            string(key.id.rawValue)
            raw(#","observed":["#)
            for (index, tag) in observed.sorted().enumerated() {
                if index > 0 { raw(",") }
                self.stamp(tag)
            }
            raw(#"],"op":"remove","stamp":"#)
            self.stamp(stamp)
            typeAndClose(key)
        case .append(let field, let entry):
            raw(#"{"entry":{"id":"#)
            string(entry.id.rawValue)
            raw(#","kind":"#)
            string(entry.kind)
            raw(#","payload":"#)
            value(.object(entry.payload))
            raw(#","personal":"#)
            value(.object(entry.personal))
            raw(#","stamp":"#)
            stamp(entry.stamp)
            raw(#"},"field":"#)
            string(field)
            raw(#","id":"#)
            string(key.id.rawValue)
            raw(#","op":"append""#)
            typeAndClose(key)
        case .redactEntry(let field, let entry, let stamp):
            raw(#"{"entry":"#)
            string(entry.rawValue)
            raw(#","field":"#)
            string(field)
            raw(",")
            idOpStampType(key, #","op":"redactEntry","stamp":"#, stamp)
        case .delete(let stamp):
            raw("{")
            idOpStampType(key, #","op":"delete","stamp":"#, stamp)
        case .redact(let stamp):
            raw("{")
            idOpStampType(key, #","op":"redact","stamp":"#, stamp)
        }
    }

    /// `{"element":…,"field":…,`: how `add` and `remove` begin.
    mutating func elementAndField(_ element: String, _ field: String) {
        raw(#"{"element":"#)
        string(element)
        raw(#","field":"#)
        string(field)
        raw(",")
    }

    /// `"id":…,"op":…,"stamp":…,"type":…}`, `op` being the `,"op":"…","stamp":` part: how the
    /// operations with nothing between their id and their op end.
    mutating func idOpStampType(_ key: RecordKey, _ op: StaticString, _ stamp: Stamp) {
        raw(#""id":"#)
        string(key.id.rawValue)
        raw(op)
        self.stamp(stamp)
        typeAndClose(key)
    }

    /// `,"type":…}`: the last key of every operation but `write`.
    mutating func typeAndClose(_ key: RecordKey) {
        raw(#","type":"#)
        string(key.type.rawValue)
        raw("}")
    }
}
