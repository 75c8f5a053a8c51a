import Testing

@testable import ConciergeCore

/// The exact escape set of canonical JSON strings (docs/encoding.md): a client in another language
/// must write the same bytes.
@Suite struct CanonicalJSONEscapeTests {
    static func encoded(_ text: String) -> String {
        String(decoding: CanonicalJSON.encode(.string(text)), as: UTF8.self)
    }

    @Test func exactlyTheControlCharactersQuoteAndBackslashAreEscaped() {
        #expect(Self.encoded("\u{0}\u{1}\u{1F}") == #""\u0000\u0001\u001f""#)
        #expect(Self.encoded("\n\r\t\u{8}\u{C}") == #""\n\r\t\b\f""#)
        #expect(Self.encoded("\"\\") == #""\"\\""#)
        // Raw: slash, DEL, the line and paragraph separators, anything else.
        #expect(Self.encoded("/\u{7F}\u{2028}\u{2029}é") == "\"/\u{7F}\u{2028}\u{2029}é\"")
    }

    @Test func objectKeysAreSortedByTheirUTF8Bytes() {
        let object: Value = ["b": 1, "B": 2, "a": 3, "é": 4, "Z": 5]
        #expect(String(decoding: CanonicalJSON.encode(object), as: UTF8.self) == #"{"B":2,"Z":5,"a":3,"b":1,"é":4}"#)
    }
}

/// A record erased twice keeps the larger erasure stamp, whichever came first (docs/merge-rules.md).
@Suite struct RepeatedErasureTests {
    @Test func theLargerErasureStampIsKept() throws {
        let replica = ReplicaID.random()
        let author = Author(principal: "anna", role: .customer)
        let early = Stamp(hlc: HLC(millis: 1_000), replica: replica)
        let late = Stamp(hlc: HLC(millis: 2_000), replica: replica)
        for order in [[early, late], [late, early]] {
            var record = Record(key: RecordKey(type: .serviceCase, id: "c1"))
            for stamp in order { try record.apply(.redact(stamp: stamp), by: author) }
            #expect(record.redacted == late)
        }
    }
}

/// Messages say "an agent", not "a agent".
@Suite struct WordsTests {
    @Test func rolesAndWordsTakeTheirArticle() {
        #expect(Role.agent.withArticle == "an agent")
        #expect(Role.integration.withArticle == "an integration")
        #expect(Role.customer.withArticle == "a customer")
        #expect(Words.withArticle("appointment") == "an appointment")
        #expect(Words.withArticle("visit") == "a visit")
    }
}
