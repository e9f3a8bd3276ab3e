/// The wire format of the retire channel, in one place: a request is one
/// text line, an answer one line of JSON (``JSONValue``, fields in a fixed
/// order), read back with ``JSONParser``.
///
///     status KEY
///     retire KEY DEADLINE_MS
///     {"pid":12,"refused":false,"reason":"","devices":1,"holders":3,"holdersAnswered":3,
///      "unansweredHolders":0,"faultSignals":0,"mappings":0,"released":true}
package enum RetireWire {
    /// The longest deadline a request may carry (a day).
    package static let maximumDeadlineMilliseconds: Int64 = 86_400_000

    package enum Request: Sendable, Hashable {
        /// How many devices and holders of the target the process has.
        case status(key: String)
        /// Remove every device of the target from the process (source `operator`).
        case retire(key: String, deadlineMilliseconds: Int64)
    }

    /// What a process answered.
    package struct Answer: Sendable, Hashable {
        package var pid: Int32
        package var refused = false
        package var reason = ""
        /// Devices of the target the process had open.
        package var devices = 0
        /// Holders told `preRemove` (retire), or holding mappings now (status).
        package var holders = 0
        package var holdersAnswered = 0
        package var unansweredHolders = 0
        /// Fault signals the process recorded during the removal (goal: 0).
        package var faultSignals: UInt64 = 0
        /// Mappings of the target still open (status), or revoked (retire).
        package var mappings = 0
        /// Every holder answered and released its mappings before the deadline.
        package var released = false

        package init(pid: Int32) { self.pid = pid }
    }

    package static func encode(_ request: Request) -> String {
        switch request {
        case .status(let key): "status \(key)\n"
        case .retire(let key, let ms): "retire \(key) \(ms)\n"
        }
    }

    package static func decodeRequest(_ text: String) -> Request? {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard words.count >= 2, isKey(words[1]) else { return nil }
        switch (words[0], words.count) {
        case ("status", 2): return .status(key: String(words[1]))
        case ("retire", 3):
            guard let ms = Int64(words[2]), ms >= 0, ms <= maximumDeadlineMilliseconds else { return nil }
            return .retire(key: String(words[1]), deadlineMilliseconds: ms)
        default: return nil
        }
    }

    private static func isKey(_ s: Substring) -> Bool {
        !s.isEmpty && s.count <= 64 && s.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
    }

    /// The longest answer read, in bytes (one datagram of the channel is at most 4096).
    package static let maximumAnswerBytes = 4096

    /// Why an answer was not read.
    package enum DecodeError: Error, Sendable, Hashable {
        /// Not JSON, or JSON beyond the limits (size, depth), with the parser's reason.
        case json(JSONParseError)
        /// JSON, but not an object with an integer `pid`.
        case notAnAnswer
        /// A known field with a value of the wrong type or out of range.
        case badField(String)
    }

    /// One line of JSON, its fields in a fixed order.
    package static func encode(_ a: Answer) -> String {
        JSONValue.object([
            ("pid", .int(Int64(a.pid))), ("refused", .bool(a.refused)), ("reason", .string(a.reason)),
            ("devices", .int(Int64(a.devices))), ("holders", .int(Int64(a.holders))),
            ("holdersAnswered", .int(Int64(a.holdersAnswered))), ("unansweredHolders", .int(Int64(a.unansweredHolders))),
            ("faultSignals", .uint(a.faultSignals)), ("mappings", .int(Int64(a.mappings))), ("released", .bool(a.released)),
        ]).rendered(pretty: false) + "\n"
    }

    /// Reads an answer written by ``encode(_:)-swift.type.method``; nil when it is not one.
    package static func decodeAnswer(_ bytes: [UInt8]) -> Answer? {
        try? parseAnswer(bytes)
    }

    /// Reads an answer with the package's JSON parser, bounded (``maximumAnswerBytes``,
    /// depth 4): an object with an integer `pid`; the other known fields default
    /// when absent and must have their type when present; unknown fields are ignored
    /// (a newer peer may add some).
    package static func parseAnswer(_ bytes: [UInt8]) throws(DecodeError) -> Answer {
        let json: JSONValue
        do throws(JSONParseError) {
            json = try JSONParser(maximumBytes: maximumAnswerBytes, maximumDepth: 4).parse(bytes)
        } catch {
            throw .json(error)
        }
        guard case .object = json, let pid = json["pid"]?.int64.flatMap({ Int32(exactly: $0) }) else { throw .notAnAnswer }
        func count(_ name: String) throws(DecodeError) -> Int {
            guard let v = json[name] else { return 0 }
            guard let n = v.int64.flatMap({ Int(exactly: $0) }), n >= 0 else { throw .badField(name) }
            return n
        }
        func flag(_ name: String) throws(DecodeError) -> Bool {
            guard let v = json[name] else { return false }
            guard case .bool(let b) = v else { throw .badField(name) }
            return b
        }
        var a = Answer(pid: pid)
        a.refused = try flag("refused")
        if let reason = json["reason"] {
            guard case .string(let s) = reason else { throw .badField("reason") }
            a.reason = s
        }
        a.devices = try count("devices")
        a.holders = try count("holders")
        a.holdersAnswered = try count("holdersAnswered")
        a.unansweredHolders = try count("unansweredHolders")
        if let v = json["faultSignals"] {
            guard let n = v.uint64 else { throw .badField("faultSignals") }
            a.faultSignals = n
        }
        a.mappings = try count("mappings")
        a.released = try flag("released")
        return a
    }
}
