import DaxMap

/// The `/proc/PID/maps` line parser (``MapsLine``, what the holder scan reads
/// of every process) on mutated real lines. Checks: no crash, no hang; what
/// parses has a non-empty range, and parses back unchanged from the line it renders.
public final class MapsLineFuzz: FuzzTarget {
    public let name = "maps"

    static let seeds: [[UInt8]] = [
        "55fe45fc0000-55fe45fc2000 r--p 00000000 fe:00 254163                     /usr/bin/head",
        "7f2a1c000000-7f2a1c200000 rw-s 00000000 00:06 1043                       /dev/dax0.0",
        "7f2a1c200000-7f2a1c400000 rw-s 00200000 103:01 12                        /mnt/pmem/file with spaces (deleted)",
        "7ffd26677000-7ffd26698000 rw-p 00000000 00:00 0                          [stack]",
        "7f43193158c0-7f43193160c0 rw-p 00000000 00:00 0 ",
        "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]",
    ].map { Array($0.utf8) }

    let mutator = ByteMutator(tokens: ["-", ":", " ", "  ", "rw-s", "00000000", "ffffffffffffffff-", "0-0", "fe:", ":00",
                                       "/dev/dax", " (deleted)", "[heap]", "\n"])

    public init() {}

    public func run(_ random: inout FuzzRandom, slow: Bool) -> String? {
        var input = Self.seeds[random.below(Self.seeds.count)]
        var steps: [String] = []
        mutator.mutate(&input, &random, &steps)
        let text = String(decoding: input, as: UTF8.self)
        guard let line = MapsLine(Substring(text)) else { return nil }
        if line.range.isEmpty { return "[\(steps.joined(separator: "; "))] empty range accepted: \(text)" }
        let rendered = "\(String(line.range.lowerBound, radix: 16))-\(String(line.range.upperBound, radix: 16)) rw-s 0 "
            + "\(String(line.major, radix: 16)):\(String(line.minor, radix: 16)) \(line.inode)" + (line.path.isEmpty ? "" : "   \(line.path)")
        guard let again = MapsLine(Substring(rendered)) else {
            return "[\(steps.joined(separator: "; "))] its rendering does not parse: \(rendered)"
        }
        return again == line ? nil : "[\(steps.joined(separator: "; "))] does not survive rendering: \(text) -> \(rendered)"
    }
}
