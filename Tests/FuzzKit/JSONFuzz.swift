import DaxMap

/// The package's JSON parser and the retire channel's answer decoder on mutated
/// valid JSON: byte flips, insertions of the tokens parsers get wrong (escapes,
/// lone surrogates, huge numbers, `NaN`, bad UTF-8, deep nesting), cuts and
/// splices. Checks: no crash, no hang; the limits hold (size, depth); whatever
/// parses renders and parses back to the same value; whatever decodes as an
/// answer encodes and decodes back to the same answer.
public final class JSONFuzz: FuzzTarget {
    public let name = "json"

    static let parser = JSONParser(maximumBytes: 8192, maximumDepth: 16)

    /// Valid inputs: answers as the channel writes them, and values with every kind of JSON.
    let seeds: [[UInt8]]

    public init() {
        var answer = RetireWire.Answer(pid: 4242)
        answer.devices = 2
        answer.holders = 3
        answer.holdersAnswered = 3
        answer.faultSignals = UInt64.max
        answer.released = true
        var refused = RetireWire.Answer(pid: 1)
        refused.refused = true
        refused.reason = "uid 1000 may not ask \"process\" 1 \\ (uid 0):\nonly root\u{7}"
        let values: [JSONValue] = [
            .object([("a", .array([.int(-1), .uint(UInt64.max), .double(0.5), .double(-1.25e-300), .null]))]),
            .array([.string("é ✓ 𝄞 \u{0} \t\r\n\"\\/"), .bool(true), .bool(false), .object([])]),
            .array([.array([.array([.object([("deep", .array([.int(Int64.min)]))])])])]),
        ]
        seeds = [RetireWire.encode(answer), RetireWire.encode(refused)].map { Array($0.utf8) }
            + values.flatMap { [Array($0.rendered(pretty: false).utf8), Array($0.rendered(pretty: true).utf8)] }
            + [Array(#"{"s":"\ud834\udd1e\u00e9\u0000\/","n":-0,"e":1E+2,"f":-0.0e-0}"#.utf8)]
    }

    /// Text that is often where parsers go wrong.
    let mutator = ByteMutator(tokens: [
        "\\u", "\\ud800", "\\udc00", "\\ud800\\u0041", "\\uZZZZ", "\\x", "\"", "\\", "1e999", "-1e-999",
        "NaN", "Infinity", "-", "01", "1.", ".5", "1e", "18446744073709551616", "-9223372036854775809",
        "99999999999999999999999999999", "[", "]", "{", "}", ",", ":", "[[[[[[[[[[[[[[[[[[", "{\"a\":",
        "true", "nul", "\"pid\":", "\"pid\":1,", "\u{7f}",
    ], bytes: [[0xF4, 0x90, 0x80, 0x80], [0x1F]])

    public func run(_ random: inout FuzzRandom, slow: Bool) -> String? {
        var input = seeds[random.below(seeds.count)]
        var steps: [String] = []
        mutate(&input, &random, &steps)
        if let problem = check(input) { return "[\(steps.joined(separator: "; "))] \(problem)" }
        return nil
    }

    /// The common mutations, and sometimes a nesting deeper than the parser's limit.
    private func mutate(_ input: inout [UInt8], _ random: inout FuzzRandom, _ steps: inout [String]) {
        mutator.mutate(&input, &random, &steps)
        if random.below(7) == 0 {
            let depth = 1 + random.below(40)
            input = Array(repeating: UInt8(ascii: "["), count: depth) + input + Array(repeating: UInt8(ascii: "]"), count: depth)
            steps.append("nest \(depth)")
        }
    }

    /// What is wrong with how `input` was parsed and decoded, or nil.
    func check(_ input: [UInt8]) -> String? {
        let parsed: JSONValue
        do throws(JSONParseError) {
            parsed = try Self.parser.parse(input)
        } catch {
            if input.count <= Self.parser.maximumBytes, case .tooLarge = error { return "tooLarge for \(input.count) bytes" }
            return answerCheck(input)
        }
        if input.count > Self.parser.maximumBytes { return "accepted \(input.count) bytes over the limit" }
        if Self.depth(parsed) > Self.parser.maximumDepth { return "accepted depth \(Self.depth(parsed))" }
        for pretty in [false, true] {
            let text = parsed.rendered(pretty: pretty)
            guard let again = try? JSONParser(maximumBytes: .max, maximumDepth: .max).parse(text) else {
                return "its rendering does not parse: \(text)"
            }
            if again != parsed { return "does not survive rendering: \(parsed) -> \(text) -> \(again)" }
        }
        return answerCheck(input)
    }

    private func answerCheck(_ input: [UInt8]) -> String? {
        let answer: RetireWire.Answer
        do throws(RetireWire.DecodeError) { answer = try RetireWire.parseAnswer(input) } catch { return nil }
        if input.count > RetireWire.maximumAnswerBytes { return "answer of \(input.count) bytes accepted" }
        let again = RetireWire.decodeAnswer(Array(RetireWire.encode(answer).utf8))
        return again == answer ? nil : "answer does not survive encoding: \(answer) -> \(String(describing: again))"
    }

    static func depth(_ v: JSONValue) -> Int {
        switch v {
        case .array(let items): 1 + (items.map(depth).max() ?? 0)
        case .object(let fields): 1 + (fields.map { depth($0.1) }.max() ?? 0)
        default: 0
        }
    }
}
