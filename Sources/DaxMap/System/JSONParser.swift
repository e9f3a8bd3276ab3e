/// Why ``JSONParser`` refused an input; `offset` is the byte where it stopped.
package enum JSONParseError: Error, Sendable, Hashable {
    /// The input is longer than the parser's byte limit.
    case tooLarge(bytes: Int, limit: Int)
    /// Arrays and objects nest deeper than the parser's depth limit.
    case tooDeep(offset: Int, limit: Int)
    /// The input ends inside a value.
    case truncated
    /// A byte that cannot start or continue what is being read.
    case unexpected(byte: UInt8, offset: Int)
    /// A string that is not valid UTF-8, or escapes a lone surrogate.
    case invalidText(offset: Int)
    /// A control character (below U+0020) written raw inside a string.
    case controlCharacter(offset: Int)
    /// A backslash followed by something JSON does not define.
    case badEscape(offset: Int)
    /// A number JSON's grammar does not allow, or one too large for a Double.
    case badNumber(offset: Int)
    /// The same key twice in one object: which one would win is not agreed on.
    case duplicateKey(String, offset: Int)
    /// Something after the value.
    case trailingData(offset: Int)
}

/// A strict RFC 8259 parser for ``JSONValue``: bounded in size and depth
/// (what it reads may come from another process), no Foundation.
///
/// Integers become `.int`, or `.uint` above `Int64.max`; anything else with a
/// fraction or exponent, or too large for 64 bits, becomes `.double` (an
/// overflow to infinity is refused). `NaN`, `Infinity`, leading zeros, `+`,
/// comments and trailing commas are refused, as are duplicate keys.
package struct JSONParser {
    /// The longest input accepted, in bytes.
    package var maximumBytes: Int
    /// How deep arrays and objects may nest (the top level is depth 1).
    package var maximumDepth: Int

    package init(maximumBytes: Int = 1 << 20, maximumDepth: Int = 64) {
        self.maximumBytes = maximumBytes
        self.maximumDepth = maximumDepth
    }

    package func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    package func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        guard bytes.count <= maximumBytes else { throw .tooLarge(bytes: bytes.count, limit: maximumBytes) }
        var reader = Reader(bytes: bytes, maximumDepth: maximumDepth)
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.at == bytes.count else { throw .trailingData(offset: reader.at) }
        return value
    }

    private struct Reader {
        let bytes: [UInt8]
        let maximumDepth: Int
        var at = 0

        mutating func skipSpace() {
            while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
        }

        func peek() throws(JSONParseError) -> UInt8 {
            guard at < bytes.count else { throw .truncated }
            return bytes[at]
        }

        mutating func literal(_ word: String, _ value: JSONValue) throws(JSONParseError) -> JSONValue {
            for b in word.utf8 {
                guard at < bytes.count else { throw .truncated }
                guard bytes[at] == b else { throw .unexpected(byte: bytes[at], offset: at) }
                at += 1
            }
            return value
        }

        mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
            skipSpace()
            let b = try peek()
            switch b {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw .unexpected(byte: b, offset: at)
            }
        }

        mutating func array(depth: Int) throws(JSONParseError) -> JSONValue {
            guard depth <= maximumDepth else { throw .tooDeep(offset: at, limit: maximumDepth) }
            at += 1 // [
            var items: [JSONValue] = []
            skipSpace()
            if try peek() == UInt8(ascii: "]") { at += 1; return .array(items) }
            while true {
                items.append(try value(depth: depth))
                skipSpace()
                let b = try peek()
                at += 1
                if b == UInt8(ascii: "]") { return .array(items) }
                guard b == UInt8(ascii: ",") else { throw .unexpected(byte: b, offset: at - 1) }
            }
        }

        mutating func object(depth: Int) throws(JSONParseError) -> JSONValue {
            guard depth <= maximumDepth else { throw .tooDeep(offset: at, limit: maximumDepth) }
            at += 1 // {
            var fields: [(String, JSONValue)] = []
            var seen = Set<String>()
            skipSpace()
            if try peek() == UInt8(ascii: "}") { at += 1; return .object(fields) }
            while true {
                skipSpace()
                let keyAt = at
                let b = try peek()
                guard b == UInt8(ascii: "\"") else { throw .unexpected(byte: b, offset: at) }
                let key = try string()
                guard seen.insert(key).inserted else { throw .duplicateKey(key, offset: keyAt) }
                skipSpace()
                let colon = try peek()
                guard colon == UInt8(ascii: ":") else { throw .unexpected(byte: colon, offset: at) }
                at += 1
                fields.append((key, try value(depth: depth)))
                skipSpace()
                let next = try peek()
                at += 1
                if next == UInt8(ascii: "}") { return .object(fields) }
                guard next == UInt8(ascii: ",") else { throw .unexpected(byte: next, offset: at - 1) }
            }
        }

        /// A string from its opening quote; the UTF-8 is checked once the bytes are collected.
        mutating func string() throws(JSONParseError) -> String {
            let start = at
            at += 1 // "
            var out: [UInt8] = []
            while true {
                guard at < bytes.count else { throw .truncated }
                let b = bytes[at]
                switch b {
                case UInt8(ascii: "\""):
                    at += 1
                    guard let s = String(validating: out, as: UTF8.self) else { throw .invalidText(offset: start) }
                    return s
                case UInt8(ascii: "\\"):
                    at += 1
                    guard at < bytes.count else { throw .truncated }
                    let e = bytes[at]
                    at += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"): out.append(contentsOf: try unicodeEscape())
                    default: throw .badEscape(offset: at - 2)
                    }
                case 0..<0x20: throw .controlCharacter(offset: at)
                default:
                    out.append(b)
                    at += 1
                }
            }
        }

        /// After `\u`: four hex digits, and a second `\uXXXX` for a surrogate pair; the scalar's UTF-8.
        mutating func unicodeEscape() throws(JSONParseError) -> [UInt8] {
            let escapeAt = at - 2
            var value = try hex4()
            if (0xD800...0xDBFF).contains(value) {
                // A high surrogate must be followed by `\u` and a low one.
                for (i, expected) in [UInt8(ascii: "\\"), UInt8(ascii: "u")].enumerated() {
                    guard at + i < bytes.count else { throw .truncated }
                    guard bytes[at + i] == expected else { throw .invalidText(offset: escapeAt) }
                }
                at += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw .invalidText(offset: escapeAt) }
                value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(value) {
                throw .invalidText(offset: escapeAt)
            }
            guard let scalar = Unicode.Scalar(value) else { throw .invalidText(offset: escapeAt) }
            return Array(String(Character(scalar)).utf8)
        }

        mutating func hex4() throws(JSONParseError) -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard at < bytes.count else { throw .truncated }
                let b = bytes[at]
                let digit: UInt8
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
                default: throw .badEscape(offset: at)
                }
                value = value << 4 | UInt32(digit)
                at += 1
            }
            return value
        }

        /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
        mutating func number() throws(JSONParseError) -> JSONValue {
            let start = at
            func digits(_ r: inout Reader) -> Int {
                let from = r.at
                while r.at < r.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(r.bytes[r.at]) { r.at += 1 }
                return r.at - from
            }
            if bytes[at] == UInt8(ascii: "-") { at += 1 }
            guard at < bytes.count else { throw .truncated }
            let intStart = at
            let intDigits = digits(&self)
            guard intDigits > 0 else { throw .badNumber(offset: start) }
            if intDigits > 1 && bytes[intStart] == UInt8(ascii: "0") { throw .badNumber(offset: start) }
            var integral = true
            if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
                at += 1
                integral = false
                guard at < bytes.count else { throw .truncated }
                guard digits(&self) > 0 else { throw .badNumber(offset: start) }
            }
            if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
                at += 1
                integral = false
                if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
                guard at < bytes.count else { throw .truncated }
                guard digits(&self) > 0 else { throw .badNumber(offset: start) }
            }
            let text = String(decoding: bytes[start..<at], as: UTF8.self)
            if integral {
                if let i = Int64(text) { return .int(i) }
                if let u = UInt64(text) { return .uint(u) }
            }
            guard let d = Double(text), d.isFinite else { throw .badNumber(offset: start) }
            return .double(d)
        }
    }
}
