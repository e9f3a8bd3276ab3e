import Glibc

/// Command-line options (no ArgumentParser: the benchmark adds no dependency).
struct BenchOptions {
    /// Print only the copy table as a JSON array on stdout; everything else to stderr.
    var json = false
    /// Also write that JSON array to this file (what `make bench` plots).
    var jsonFile: String?
    /// `/dev/daxX.Y`, a file on a DAX mount, or a file (created as an emulated
    /// device when missing). Default: an emulated file on /dev/shm.
    var target: String?
    var copy = true
    var cacheLine = true
    var holder = true
    var scrub = true
    /// The unused test hooks' cost: guarded calls per second on a plain mapping.
    var hooks = true
    /// Bytes each implementation writes over (three disjoint regions of the target).
    var workingSet = 256 << 20
    /// Seconds per measured cell (split into interleaved rounds).
    var cellSeconds = 0.5
    var rounds = 5
    var latencySamples = 200
    var removalRepeats = 5

    static let usage = """
    usage: daxmap-bench [--json] [--json-file FILE] [--target PATH] [--copy-only | --holder-only | --scrub-only | --hooks-only]
                        [--working-set MIB] [--cell-ms MS] [--samples N]

      --json           only the copy table, as a JSON array, on stdout (the rest on stderr)
      --json-file FILE also write that JSON array to FILE
      --target PATH    /dev/daxX.Y, a file on a DAX mount, or a file (created as an
                       emulated device if missing); default: a file on /dev/shm
      --copy-only      the copy+persist tables only (benchmark 1)
      --holder-only    the holder-layer sections only (benchmark 2, always on /dev/shm)
      --scrub-only     the scrub against a raw sequential read only
      --hooks-only     guarded write/read/persist calls per second on a plain mapping only
      --working-set M  MiB written by each implementation (default 256)
      --cell-ms MS     time per measured cell (default 500)
      --samples N      SIGBUS latency samples per variant (default 200)
    """

    static func parse(_ arguments: [String]) -> BenchOptions {
        var o = BenchOptions()
        var it = arguments.dropFirst().makeIterator()
        func value(_ flag: String) -> String {
            guard let v = it.next() else { fail("\(flag) needs a value\n\(usage)") }
            return v
        }
        func number(_ flag: String) -> Int {
            let v = value(flag)
            guard let n = Int(v), n > 0 else { fail("\(flag): '\(v)' is not a positive integer") }
            return n
        }
        while let arg = it.next() {
            switch arg {
            case "--json": o.json = true
            case "--json-file": o.jsonFile = value(arg)
            case "--target": o.target = value(arg)
            case "--copy-only": o.holder = false; o.hooks = false
            case "--holder-only": o.copy = false; o.cacheLine = false; o.scrub = false; o.hooks = false
            case "--scrub-only": o.copy = false; o.cacheLine = false; o.holder = false; o.hooks = false
            case "--hooks-only": o.copy = false; o.cacheLine = false; o.holder = false; o.scrub = false
            case "--no-cacheline": o.cacheLine = false
            case "--working-set": o.workingSet = number(arg) << 20
            case "--cell-ms": o.cellSeconds = Double(number(arg)) / 1000
            case "--samples": o.latencySamples = number(arg)
            case "-h", "--help":
                writeAll(STDOUT_FILENO, usage + "\n")
                exit(0)
            default:
                fail("unknown argument '\(arg)'\n\(usage)")
            }
        }
        return o
    }
}
