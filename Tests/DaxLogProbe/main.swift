// A child for the kill -9 tests: appends to a DaxLog forever (single records
// and batches, discarding as it goes so the log wraps), printing each
// acknowledged sequence number with write(2) the moment append returns.
// Usage: daxlog-probe PATH SIZE
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

let args = CommandLine.arguments
guard args.count == 3, let size = UInt64(args[2]) else {
    say("usage: daxlog-probe PATH SIZE")
    exit(64)
}
do {
    let device = try DaxDevice.createEmulated(at: args[1], size: size)
    let log = try DaxLog.open(device: device)
    say("recovered \(log.recovery)")
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
