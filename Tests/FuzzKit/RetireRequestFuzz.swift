import DaxMap

/// The retire channel's request decoder (`RetireWire.decodeRequest`: any
/// local process may connect and send one) on mutated valid requests (the
/// answers are the `json` target's). Checks: no crash, no hang; what decodes
/// is within the limits and decodes back unchanged from its encoding.
public final class RetireRequestFuzz: FuzzTarget {
    public let name = "retire-request"

    static let seeds: [[UInt8]] = [
        RetireWire.encode(.status(key: "char-252-0")), RetireWire.encode(.retire(key: "fs-259-1", deadlineMilliseconds: 30000)),
        RetireWire.encode(.retire(key: "file-259-1-12345", deadlineMilliseconds: 0)),
    ].map { Array($0.utf8) }

    let mutator = ByteMutator(tokens: ["status", "retire", "char-", "fs-", "file-", " ", "\n", "86400000", "86400001",
                                       "-0", "9223372036854775808"])

    public init() {}

    public func run(_ random: inout FuzzRandom, slow: Bool) -> String? {
        var input = Self.seeds[random.below(Self.seeds.count)]
        var steps: [String] = []
        mutator.mutate(&input, &random, &steps)
        guard let request = RetireWire.decodeRequest(String(decoding: input, as: UTF8.self)) else { return nil }
        if case .retire(_, let ms) = request, ms < 0 || ms > RetireWire.maximumDeadlineMilliseconds {
            return "[\(steps.joined(separator: "; "))] deadline \(ms) accepted"
        }
        let again = RetireWire.decodeRequest(RetireWire.encode(request))
        return again == request ? nil : "[\(steps.joined(separator: "; "))] does not survive encoding: \(request) -> \(String(describing: again))"
    }
}
