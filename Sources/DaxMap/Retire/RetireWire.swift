/// The wire format of the retire channel, in one place: a request is one
/// text line, an answer one line of JSON (fields in a fixed order).
///
///     status KEY
///     retire KEY DEADLINE_MS
///     {"pid":12,"refused":false,"reason":"","devices":1,"holders":3,"holdersAnswered":3,
///      "unansweredHolders":0,"faultSignals":0,"mappings":0,"released":true}
enum RetireWire {
    /// The longest deadline a request may carry (a day).
    static let maximumDeadlineMilliseconds: Int64 = 86_400_000

    enum Request: Sendable, Hashable {
        /// How many devices and holders of the target the process has.
        case status(key: String)
        /// Remove every device of the target from the process (source `operator`).
        case retire(key: String, deadlineMilliseconds: Int64)
    }

    /// What a process answered.
    struct Answer: Sendable, Hashable {
        var pid: Int32
        var refused = false
        var reason = ""
        /// Devices of the target the process had open.
        var devices = 0
        /// Holders told `preRemove` (retire), or holding mappings now (status).
        var holders = 0
        var holdersAnswered = 0
        var unansweredHolders = 0
        /// Fault signals the process recorded during the removal (goal: 0).
        var faultSignals: UInt64 = 0
        /// Mappings of the target still open (status), or revoked (retire).
        var mappings = 0
        /// Every holder answered and released its mappings before the deadline.
        var released = false
    }

    static func encode(_ request: Request) -> String {
        switch request {
        case .status(let key): "status \(key)\n"
        case .retire(let key, let ms): "retire \(key) \(ms)\n"
        }
    }

    static func decodeRequest(_ text: String) -> Request? {
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

    static func encode(_ a: Answer) -> String {
        let reason = String(a.reason.filter { $0 != "\"" && $0 != "\\" && $0 != "\n" })
        return "{\"pid\":\(a.pid),\"refused\":\(a.refused),\"reason\":\"\(reason)\",\"devices\":\(a.devices),"
            + "\"holders\":\(a.holders),\"holdersAnswered\":\(a.holdersAnswered),"
            + "\"unansweredHolders\":\(a.unansweredHolders),\"faultSignals\":\(a.faultSignals),"
            + "\"mappings\":\(a.mappings),\"released\":\(a.released)}\n"
    }

    /// Reads an answer written by ``encode(_:)-swift.type.method``; nil when it is not one.
    static func decodeAnswer(_ text: String) -> Answer? {
        func field(_ name: String) -> Substring? {
            guard let start = text.firstRange(of: "\"\(name)\":")?.upperBound else { return nil }
            let rest = text[start...]
            if rest.first == "\"" {
                let body = rest.dropFirst()
                return body.prefix { $0 != "\"" }
            }
            return rest.prefix { $0 != "," && $0 != "}" }
        }
        guard let pid = field("pid").flatMap({ Int32($0) }) else { return nil }
        var a = Answer(pid: pid)
        a.refused = field("refused") == "true"
        a.reason = field("reason").map(String.init) ?? ""
        a.devices = field("devices").flatMap { Int($0) } ?? 0
        a.holders = field("holders").flatMap { Int($0) } ?? 0
        a.holdersAnswered = field("holdersAnswered").flatMap { Int($0) } ?? 0
        a.unansweredHolders = field("unansweredHolders").flatMap { Int($0) } ?? 0
        a.faultSignals = field("faultSignals").flatMap { UInt64($0) } ?? 0
        a.mappings = field("mappings").flatMap { Int($0) } ?? 0
        a.released = field("released") == "true"
        return a
    }
}
