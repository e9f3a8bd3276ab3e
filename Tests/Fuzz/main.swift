// daxmap-fuzz: `make fuzz`. Seeded mutation cases of every parser in
// FuzzTargets.all; a case is reproduced from --seed and its number alone
// (--first N --cases 1). Each case runs under alarm(2): a case that hangs
// kills the run with SIGALRM (the last progress line says where it was).
import DaxFuzzKit
import Glibc

/// Standard error, unbuffered (progress and usage).
func printError(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { b in _ = write(2, b.baseAddress, b.count) } // nowhere to report a failed write to stderr
}

var cases: UInt64 = 1_000_000, seed: UInt64 = 2026, first: UInt64 = 0, slowEvery: UInt64 = 1000
var only: String?
var args = CommandLine.arguments.dropFirst()
func usage(_ why: String) -> Never {
    printError("daxmap-fuzz: \(why)\nusage: daxmap-fuzz [--cases N] [--seed S] [--first N] [--slow-every N (0: never)] [--target NAME]")
    exit(64)
}
while let a = args.popFirst() {
    guard let v = args.popFirst() else { usage("\(a) needs a value") }
    switch a {
    case "--cases": guard let n = UInt64(v), n > 0 else { usage("--cases must be a positive number, not \(v)") }; cases = n
    case "--seed": guard let n = UInt64(v) else { usage("--seed must be a number, not \(v)") }; seed = n
    case "--first": guard let n = UInt64(v) else { usage("--first must be a number, not \(v)") }; first = n
    case "--slow-every": guard let n = UInt64(v) else { usage("--slow-every must be a number, not \(v)") }; slowEvery = n
    case "--target": only = v
    default: usage("unknown option \(a)")
    }
}

if first.addingReportingOverflow(cases).overflow {
    usage("--first \(first) and --cases \(cases) run past case 2^64 - 1")
}

var template = Array("/tmp/daxmap-fuzz-XXXXXX".utf8CString)
guard let made = mkdtemp(&template) else { usage("cannot make a scratch directory in /tmp") }
let scratch = String(cString: made)
defer { _ = system("rm -rf '\(scratch)'") }
let targets: [any FuzzTarget]
do { targets = try FuzzTargets.all(scratch: scratch).filter { only == nil || $0.name == only } } catch {
    printError("daxmap-fuzz: cannot make the seed inputs: \(error)")
    exit(1)
}
guard !targets.isEmpty else { usage("no target named \(only ?? "")") }

var failed = false
let clock = ContinuousClock()
for target in targets {
    let start = clock.now
    let step: UInt64 = 100_000
    var done: UInt64 = 0
    while done < cases {
        let n = min(step, cases - done)
        let failures = runFuzz(target, seed: seed, first: first + done, cases: n, slowEvery: slowEvery) { _ in
            alarm(2) // a hang: SIGALRM's default action ends the run
        }
        alarm(0)
        done += n
        printError("\(target.name): \(done)/\(cases) cases from \(first) (seed \(seed)), \(clock.now - start)")
        for f in failures { print("FAIL \(f)") }
        if !failures.isEmpty { failed = true; break }
    }
    print("\(target.name): \(done) cases, seed \(seed), \(failed ? "FAILED" : "clean") in \(clock.now - start)")
}
exit(failed ? 1 : 0)
