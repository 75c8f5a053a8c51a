import ConciergeCore
import Testing

@Suite struct CanonicalJSONTests {
    @Test func keysAreSortedByUTF8BytesWithoutWhitespace() throws {
        let value = try CanonicalJSON.decode(#" { "b" : 1, "a" : [ true, null ], "Z": "x", "é": 2, "e": -3 } "#)
        #expect(CanonicalJSON.string(value) == #"{"Z":"x","a":[true,null],"b":1,"e":-3,"é":2}"#)
    }

    @Test func slashIsNotEscapedAndControlsAre() throws {
        let value = Value.string("a/b\"c\\d\n\u{01}é")
        #expect(CanonicalJSON.string(value) == #""a/b\"c\\d\n\u0001é""#)
        #expect(try CanonicalJSON.decode(CanonicalJSON.encode(value)) == value)
    }

    @Test func escapesAndSurrogatePairsDecode() throws {
        #expect(try CanonicalJSON.decode(#""\u00e9\/\ud83d\ude00""#) == .string("é/😀"))
    }

    @Test func integersKeepAll64Bits() throws {
        #expect(try CanonicalJSON.decode("9223372036854775807") == .int(.max))
        #expect(try CanonicalJSON.decode("-9223372036854775808") == .int(.min))
        #expect(CanonicalJSON.string(.int(.min)) == "-9223372036854775808")
    }

    @Test(arguments: ["1.5", "1e3", "-0.0", "2E-1"])
    func floatsAreRefused(text: String) {
        #expect(throws: CodecError.self) { try CanonicalJSON.decode(text) }
        do { _ = try CanonicalJSON.decode(text) } catch { #expect(error.code == .floatNotAllowed) }
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "01", "tru", "\"abc", "\"\\x\"", "{\"a\":1,\"a\":2}",
        "9223372036854775808", "[1] 2", "\"\\ud800\"", "{1:2}",
    ])
    func malformedInputIsRefusedWithAnOffset(text: String) {
        do {
            _ = try CanonicalJSON.decode(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.message.contains("at byte"))
        }
    }

    @Test func deepNestingIsRefused() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: CodecError.self) { try CanonicalJSON.decode(deep) }
    }
}
