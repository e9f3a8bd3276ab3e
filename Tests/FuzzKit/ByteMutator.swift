/// The mutations every text-format target applies to a valid input: byte
/// flips, insertions and overwrites with the tokens the format's parser is
/// likely to get wrong, deletions, cuts, splices and repeats. Each step is
/// described, so a failure says how its input was made.
public struct ByteMutator: Sendable {
    /// Text worth inserting for this format (separators, keys, huge numbers).
    public let tokens: [[UInt8]]

    /// Tokens every format gets: bytes that are not text, and numbers at the edges.
    static let common: [[UInt8]] = [
        [0x00], [0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0x0A], [0x09], [0x20], [0x7F],
    ] + ["18446744073709551615", "18446744073709551616", "-1", "0", "99999999999999999999999999", "ffffffffffffffff",
         "10000000000000000"].map { Array($0.utf8) }

    /// `bytes`: tokens that are not valid UTF-8 text (overlong or out-of-range sequences).
    public init(tokens: [String], bytes: [[UInt8]] = []) {
        self.tokens = tokens.map { Array($0.utf8) } + bytes + Self.common
    }

    /// Applies one to four mutations to `input`, describing each in `steps`.
    public func mutate(_ input: inout [UInt8], _ random: inout FuzzRandom, _ steps: inout [String]) {
        for _ in 0..<(1 + random.below(4)) { mutateOnce(&input, &random, &steps) }
    }

    private func mutateOnce(_ input: inout [UInt8], _ random: inout FuzzRandom, _ steps: inout [String]) {
        let at = input.isEmpty ? 0 : random.below(input.count + 1)
        switch random.below(7) {
        case 0 where !input.isEmpty:
            let i = random.below(input.count)
            input[i] ^= UInt8(1) << UInt8(random.below(8))
            steps.append("flip byte \(i)")
        case 1:
            let token = tokens[random.below(tokens.count)]
            input.insert(contentsOf: token, at: at)
            steps.append("insert \(token) at \(at)")
        case 2 where !input.isEmpty:
            let n = min(1 + random.below(8), input.count - at)
            input.removeSubrange(at..<(at + n))
            steps.append("delete \(n) at \(at)")
        case 3:
            input = Array(input.prefix(at))
            steps.append("cut at \(at)")
        case 4 where !input.isEmpty:
            let from = random.below(input.count)
            let piece = input[from..<min(input.count, from + 1 + random.below(32))]
            input.insert(contentsOf: piece, at: at)
            steps.append("splice \(piece.count) from \(from) at \(at)")
        case 5 where !input.isEmpty && input.count < 4096:
            let times = 1 + random.below(6)
            input = Array([[UInt8]](repeating: input, count: times + 1).joined())
            steps.append("repeat \(times)")
        default:
            let token = tokens[random.below(tokens.count)]
            let i = input.isEmpty ? 0 : random.below(input.count)
            input.replaceSubrange(i..<min(input.count, i + token.count), with: token)
            steps.append("overwrite \(token) at \(i)")
        }
    }
}
