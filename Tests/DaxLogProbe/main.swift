// A child for the kill -9 and restart tests.
// Usage: daxlog-probe PATH SIZE
//   appends to a DaxLog forever (single records and batches, discarding as it
//   goes so the log wraps), printing each acknowledged sequence number with
//   write(2) the moment append returns.
// Usage: daxlog-probe PATH SIZE --exit-after N
//   appends N records and exits without closing the log (a crash at a clean point).
// Usage: daxlog-probe PATH SIZE --truncate-after N CUT
//   appends N records (no discard), truncates PATH to CUT bytes (a real
//   BUS_ADRERR for the next append), appends once more and prints what the
//   failed append said ("failed CODE lost A..<B ..." and "lostSequences ..."),
//   then exits without reattaching or closing, as a service that crashes does.
import DaxLog
import DaxMap
import Glibc

func payload(_ sequence: UInt64) -> [UInt8] {
    let n = 1 + Int(sequence &* 37 % 300)
    return (0..<n).map { UInt8(truncatingIfNeeded: sequence &* 31 &+ UInt64($0)) }
}

func say(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { _ = write(STDOUT_FILENO, $0.baseAddress, $0.count) }
}

func ranges(_ r: [Range<UInt64>]) -> String { r.map { "\($0.lowerBound)..<\($0.upperBound)" }.joined(separator: " ") }

let args = CommandLine.arguments
guard args.count == 3 || (args.count == 6 && args[3] == "--truncate-after") || (args.count == 5 && args[3] == "--exit-after"),
      let size = UInt64(args[2]) else {
    say("usage: daxlog-probe PATH SIZE [--truncate-after N CUT | --exit-after N]")
    exit(64)
}
do {
    let device = try DaxDevice.createEmulated(at: args[1], size: size)
    let log = try DaxLog.open(device: device)
    say("recovered \(log.recovery)")
    if args.count == 5 {
        guard let n = UInt64(args[4]) else {
            say("usage: N is a number")
            exit(64)
        }
        let first = log.nextSequence
        for s in first..<(first + n) { _ = try log.append(payload(s)) }
        say("acked \(first)..<\(first + n)")
        exit(0)
    }
    if args.count == 6 {
        guard let n = UInt64(args[4]), let cut = Int(args[5]) else {
            say("usage: N and CUT are numbers")
            exit(64)
        }
        let first = log.nextSequence
        for s in first..<(first + n) { _ = try log.append(payload(s)) }
        say("acked \(first)..<\(first + n)")
        guard truncate(args[1], off_t(cut)) == 0 else {
            say("truncate failed: errno \(errno)")
            exit(1)
        }
        do {
            let s = try log.append(payload(log.nextSequence))
            say("acked past the cut \(s)")
            exit(1)
        } catch {
            // What the thread whose append failed knows at once, before anything else runs.
            let known = log.lostSequences
            say("failed \(error.code) \(error.underlying?.code.rawValue ?? "-") lost \(ranges(error.lost))")
            say("lostSequences \(ranges(known))")
        }
        exit(0)
    }
    var round = 0
    while true {
        round += 1
        if log.usedBytes > log.capacity / 2 { try log.discard(upTo: log.nextSequence - 8) }
        if round % 5 == 0 {
            let first = log.nextSequence
            let range = try log.append(contentsOf: (first..<(first + 4)).map(payload))
            for s in range { say("acked \(s)") }
        } else {
            let s = try log.append(payload(log.nextSequence))
            say("acked \(s)")
        }
    }
} catch {
    say("error \(error)")
    exit(1)
}
