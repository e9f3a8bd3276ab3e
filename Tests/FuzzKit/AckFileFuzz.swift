import DaxMap

/// The acknowledgement-file parser of `daxmap hold` / `verify` (AckFileFormat.swift,
/// linked here from Sources/daxmap) on mutated valid files: byte flips, the
/// tokens its fields get wrong (signs, huge numbers, `%` escapes, spaces,
/// extra `log` and `end` lines, bad UTF-8), cuts and splices. Checks: no crash,
/// no hang; whatever parses keeps the rules verify relies on (every line
/// acknowledges at least one record that fits its range, holders in range, no
/// log twice) and renders and parses back to the same entries.
public final class AckFileFuzz: FuzzTarget {
    public let name = "ackfile"

    let seeds: [[UInt8]]

    public init() {
        typealias Entry = AckFileFormat.Entry
        let lists: [[Entry]] = [
            [Entry(device: "/dev/dax0.0", holder: 0, offset: 0, length: 1 << 21, through: 100)],
            (0..<4).map { Entry(device: "/mnt/pmem/my dev\n%20 é", holder: $0, offset: UInt64($0) << 20, length: 1 << 20, through: UInt64(1 + $0)) },
            [Entry(device: "a", holder: 255, offset: UInt64.max - 4096, length: 4096, through: 128),
             Entry(device: "b", holder: 255, offset: 0, length: UInt64(Int.max), through: UInt64(Int.max) / 32)],
        ]
        seeds = lists.map { Array(AckFileFormat.render($0).utf8) }
    }

    let mutator = ByteMutator(tokens: [
        "log ", "end ", "end 1\n", "\nlog 0 0 4096 1 x\n", " ", "  ", "\n", "%", "%2", "%ZZ", "%00", "%0A", "-1", "+1", "0",
        "18446744073709551615", "18446744073709551616", "9223372036854775807", "256", "4096", "daxmap-acked 2\n",
        "daxmap-acked 1\n", "\r\n",
    ])

    public func run(_ random: inout FuzzRandom, slow: Bool) -> String? {
        var input = seeds[random.below(seeds.count)]
        var steps: [String] = []
        mutator.mutate(&input, &random, &steps)
        if let problem = check(input) { return "[\(steps.joined(separator: "; "))] \(problem)" }
        return nil
    }

    /// What is wrong with how `input` was parsed, or nil.
    func check(_ input: [UInt8]) -> String? {
        let entries: [AckFileFormat.Entry]
        do throws(DaxError) { entries = try AckFileFormat.parse(input, path: "fuzz") } catch {
            return error.code == .invalidArgument ? nil : "refused with \(error.code), not invalidArgument: \(error)"
        }
        if entries.isEmpty { return "accepted a file listing no log" }
        for (i, e) in entries.enumerated() {
            if e.through > e.length / AckFileFormat.smallestRecord { return "accepted through \(e.through) for \(e.length) bytes" }
            if !(0..<AckFileFormat.maximumHolders).contains(e.holder) { return "accepted holder \(e.holder)" }
            if e.offset.addingReportingOverflow(e.length).overflow { return "accepted a range past 2^64" }
            for f in entries[..<i] where f.device == e.device && (f.holder == e.holder || (f.offset < e.offset + e.length && e.offset < f.offset + f.length)) {
                return "accepted \(e) beside \(f)"
            }
        }
        let text = AckFileFormat.render(entries)
        do throws(DaxError) {
            let again = try AckFileFormat.parse(Array(text.utf8), path: "fuzz")
            return again == entries ? nil : "does not survive rendering: \(entries) -> \(again)"
        } catch {
            return "its rendering does not parse: \(error)"
        }
    }
}
