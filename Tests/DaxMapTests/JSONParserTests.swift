import Testing
@testable import DaxMap

/// The package's one JSON parser (``JSONParser``) and encoder (``JSONValue``), and
/// the retire channel's answers read with them.
@Suite struct JSONParserTests {
    let parser = JSONParser()

    func parse(_ text: String) throws(JSONParseError) -> JSONValue { try parser.parse(text) }

    func error(_ bytes: [UInt8], _ p: JSONParser = JSONParser()) -> JSONParseError? {
        do throws(JSONParseError) { _ = try p.parse(bytes); return nil } catch { return error }
    }

    func error(_ text: String, _ p: JSONParser = JSONParser()) -> JSONParseError? { error(Array(text.utf8), p) }

    @Test func escapesAreRead() throws {
        #expect(try parse(#""a\"b\\c\/d\be\ff\ng\rh\ti""#) == .string("a\"b\\c/d\u{8}e\u{c}f\ng\rh\ti"))
        #expect(error(#""\x""#) == .badEscape(offset: 1))
        #expect(error(#""\u12G4""#) == .badEscape(offset: 5))
        #expect(error("\"a\u{1}b\"") == .controlCharacter(offset: 2))
    }

    @Test func unicodeEscapesAndSurrogatePairs() throws {
        #expect(try parse(#""\u00e9\u2713\ud834\udd1e\u0000""#) == .string("é✓𝄞\u{0}"))
        #expect(try parse("\"é ✓ 𝄞\"") == .string("é ✓ 𝄞"))
        #expect(error(#""\ud834""#) == .invalidText(offset: 1))        // lone high surrogate
        #expect(error(#""\ud834\u0041""#) == .invalidText(offset: 1))  // high surrogate, then not a low one
        #expect(error(#""\udd1e""#) == .invalidText(offset: 1))        // lone low surrogate
    }

    @Test func badUTF8IsRefused() {
        for bad: [UInt8] in [[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82]] {
            #expect(error([0x22] + bad + [0x22]) == .invalidText(offset: 0), "\(bad)")
        }
        #expect(error([0xFF]) == .unexpected(byte: 0xFF, offset: 0))
    }

    @Test func numbers() throws {
        #expect(try parse("0") == .int(0))
        #expect(try parse("-0") == .int(0))
        #expect(try parse("-9223372036854775808") == .int(.min))
        #expect(try parse("9223372036854775808") == .uint(1 << 63))
        #expect(try parse("18446744073709551615") == .uint(.max))
        #expect(try parse("18446744073709551616") == .double(18446744073709551616))
        #expect(try parse("-9223372036854775809") == .double(-9223372036854775809))
        #expect(try parse("1.5e3") == .double(1500))
        #expect(try parse("1E-2") == .double(0.01))
        #expect(try parse("-0.25") == .double(-0.25))
        for bad in ["01", "-", "1.", ".5", "+1", "1e", "1e+", "0x10", "1.e3", "--1"] {
            #expect(error(bad) != nil, "\(bad)")
        }
        #expect(error("1e999") == .badNumber(offset: 0))   // beyond Double: refused, not infinity
        #expect(error("-1e999") == .badNumber(offset: 0))
        for word in ["NaN", "Infinity", "-Infinity", "nan", "inf"] {
            #expect(error(word) != nil, "\(word)")
        }
    }

    @Test func nestingIsBounded() throws {
        let limited = JSONParser(maximumDepth: 3)
        #expect(try limited.parse("[[[1]]]") == .array([.array([.array([.int(1)])])]))
        #expect(error("[[[[1]]]]", limited) == .tooDeep(offset: 3, limit: 3))
        #expect(error(#"{"a":{"b":{"c":{}}}}"#, limited) == .tooDeep(offset: 15, limit: 3))
        // The default limit keeps a hostile input far from the stack's end.
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(error(deep) == .tooDeep(offset: 64, limit: 64))
    }

    @Test func sizeIsBounded() throws {
        let small = JSONParser(maximumBytes: 8)
        #expect(try small.parse("[1,2,3]") == .array([.int(1), .int(2), .int(3)]))
        #expect(error("[1,2,3,4]", small) == .tooLarge(bytes: 9, limit: 8))
    }

    @Test func truncatedInputIsRefusedAtEveryCut() {
        let text = #"{"a":[1,-2.5e3,"x\u00e9",true,false,null],"b":{}}"#
        let bytes = Array(text.utf8)
        for cut in 0..<bytes.count {
            #expect(error(Array(bytes[..<cut])) != nil, "cut at \(cut)")
        }
        #expect(error(bytes) == nil)
        #expect(error("") == .truncated)
        #expect(error(#"{"a""#) == .truncated)
        #expect(error(#""abc"#) == .truncated)
    }

    @Test func structureErrors() {
        #expect(error("[1,]") == .unexpected(byte: UInt8(ascii: "]"), offset: 3))
        #expect(error(#"{"a":1,}"#) == .unexpected(byte: UInt8(ascii: "}"), offset: 7))
        #expect(error(#"{"a" 1}"#) == .unexpected(byte: UInt8(ascii: "1"), offset: 5))
        #expect(error(#"{a:1}"#) == .unexpected(byte: UInt8(ascii: "a"), offset: 1))
        #expect(error("[1] 2") == .trailingData(offset: 4))
        #expect(error(#"{"a":1,"a":2}"#) == .duplicateKey("a", offset: 7))
        #expect(error("tru") == .truncated)
        #expect(error("nulL") == .unexpected(byte: UInt8(ascii: "L"), offset: 3))
    }

    @Test func renderingParsesBackAndKeepsKeyOrder() throws {
        let value = JSONValue.object([
            ("z", .int(-3)), ("a", .uint(.max)), ("m", .array([.double(0.5), .null, .bool(true), .string("q\"\\\n\u{1}é")])),
            ("empty", .object([])), ("list", .array([])),
        ])
        for pretty in [true, false] {
            let again = try parse(value.rendered(pretty: pretty))
            #expect(again == value)
            #expect(again.keys == ["z", "a", "m", "empty", "list"])
        }
        #expect(value.rendered(pretty: false) == #"{"z":-3,"a":18446744073709551615,"m":[0.5,null,true,"q\"\\\n\u0001é"],"empty":{},"list":[]}"#)
        #expect(JSONValue.double(.nan).rendered() == "null")
    }

    @Test func retireAnswersRoundTripThroughTheParser() throws {
        var answer = RetireWire.Answer(pid: 77)
        answer.refused = true
        answer.reason = "uid 5 may not ask \"it\"\nback\\slash"
        answer.faultSignals = .max
        answer.holders = 4
        let text = RetireWire.encode(answer)
        #expect(text.hasSuffix("}\n"))
        #expect(text.hasPrefix(#"{"pid":77,"refused":true,"reason":"uid 5 may not ask \"it\"\nback\\slash","devices":0,"#))
        #expect(RetireWire.decodeAnswer(Array(text.utf8)) == answer)
    }

    @Test func retireAnswersAreCheckedFieldByField() {
        func reason(_ text: String) -> RetireWire.DecodeError? {
            do throws(RetireWire.DecodeError) { _ = try RetireWire.parseAnswer(Array(text.utf8)); return nil } catch { return error }
        }
        #expect(reason(#"{"pid":1}"#) == nil)                  // the rest defaults
        #expect(reason(#"{"pid":1,"newField":[1]}"#) == nil)   // unknown fields: a newer peer
        #expect(reason(#"{"refused":true}"#) == .notAnAnswer)
        #expect(reason(#"[{"pid":1}]"#) == .notAnAnswer)
        #expect(reason(#"{"pid":4294967296}"#) == .notAnAnswer)
        #expect(reason(#"{"pid":1,"holders":-1}"#) == .badField("holders"))
        #expect(reason(#"{"pid":1,"released":"true"}"#) == .badField("released"))
        #expect(reason(#"{"pid":1,"reason":5}"#) == .badField("reason"))
        #expect(reason(#"{"pid":1,"pid":2}"#) == .json(.duplicateKey("pid", offset: 9)))
        #expect(reason(#"{"pid":1,"reason":"#) == .json(.truncated))
        let long = #"{"pid":1,"reason":""# + String(repeating: "x", count: RetireWire.maximumAnswerBytes) + #""}"#
        #expect(reason(long) == .json(.tooLarge(bytes: long.utf8.count, limit: RetireWire.maximumAnswerBytes)))
    }
}
