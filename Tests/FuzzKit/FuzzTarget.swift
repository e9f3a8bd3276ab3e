/// One parser under the fuzzer: each case mutates a valid input with the
/// case's random stream, parses it, and checks what came back. A new parser
/// (ack file, uevents, /proc maps...) is one more type conforming to this,
/// listed in ``FuzzTargets/all``.
public protocol FuzzTarget: AnyObject {
    /// What `--target` selects.
    var name: String { get }
    /// Runs one case; a description of what went wrong, or nil. `slow`: this
    /// case may go through the real thing (files, mappings) rather than memory.
    func run(_ random: inout FuzzRandom, slow: Bool) -> String?
}

/// The targets `make fuzz` runs.
public enum FuzzTargets {
    public static func all(scratch: String) throws -> [any FuzzTarget] {
        [try LogRecoveryFuzz(scratch: scratch), JSONFuzz(), AckFileFuzz()]
    }
}

/// SplitMix64: a case is reproduced from its seed alone.
public struct FuzzRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The stream of case `index` of a run seeded `seed`.
    public init(seed: UInt64, case index: UInt64) {
        var r = FuzzRandom(seed: seed ^ (index &* 0xD1B5_4A32_D192_ED03))
        state = r.next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound` (bound > 0).
    public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// Runs `cases` cases of `target` from `first`; the failures (at most `limit`), each with its case number.
public func runFuzz(_ target: any FuzzTarget, seed: UInt64, first: UInt64 = 0, cases: UInt64, slowEvery: UInt64,
                    limit: Int = 10, beforeCase: (UInt64) -> Void = { _ in }) -> [String] {
    var failures: [String] = []
    for i in first..<(first + cases) {
        beforeCase(i)
        var random = FuzzRandom(seed: seed, case: i)
        if let failure = target.run(&random, slow: slowEvery > 0 && i % slowEvery == 0) {
            failures.append("\(target.name) case \(i) (seed \(seed)): \(failure)")
            if failures.count >= limit { break }
        }
    }
    return failures
}
