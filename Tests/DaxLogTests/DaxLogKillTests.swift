import DaxMap
import Glibc
import Testing
@testable import DaxLog

/// kill -9 of a process appending to the log, at random moments, 20 times in a row on
/// the same log: every record it acknowledged is recovered intact, and no corrupt
/// record is returned.
@Suite struct DaxLogKillTests {
    @Test func killNineAtRandomPointsLosesNoAcknowledgedRecord() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let probe = buildDirectory + "/daxlog-probe"
        var highest: UInt64? = nil
        var total = 0
        for run in 0..<20 {
            // The random moment counts from the log's recovery, not the process's start:
            // a loaded (or sanitized) host can take longer than the moment to get there.
            // Waiting for that line is bounded (2 min) and ends if the probe exits.
            let ms = Int.random(in: 0...350)
            let out = dir.file("probe.out")
            let lines = [
                "\(quoted(probe)) \(quoted(path)) 2097152 >\(quoted(out)) 2>&1 &",
                "pid=$!; i=0",
                "while kill -0 $pid 2>/dev/null && ! grep -q '^recovered ' \(quoted(out)) && [ $i -lt 12000 ]; do sleep 0.01; i=$((i+1)); done",
                "sleep \(Double(ms) / 1000)",
                "kill -KILL $pid",
                "wait $pid",
            ]
            let result = runShell("sh -c \(quoted(lines.joined(separator: "\n")))")
            let stdout = readFile(out)
            #expect(result.status == 137, "run \(run): the probe should die of SIGKILL: \(stdout.suffix(300)) \(result.stderr)")
            let acked = stdout.split(separator: "\n").compactMap { line -> UInt64? in
                line.hasPrefix("acked ") ? UInt64(line.dropFirst(6)) : nil
            }
            total += acked.count
            if let h = highest, let first = acked.first {
                #expect(first > h, "run \(run): numbers go on after the last run (\(first) after \(h))")
            }
            let log = try DaxLog.open(device: try DaxDevice.open(path, options: .init(readOnly: true)),
                                      options: .init(creation: .never, readOnly: true))
            let r = log.recovery
            #expect(r.lost.isEmpty, "run \(run): \(r)")
            switch r.stop {
            case .cleanEnd, .tornTail: break
            default: Issue.record("run \(run): stopped at \(r.stop)")
            }
            let records = try log.records()
            #expect(records.allSatisfy { $0.bytes == payload($0.sequence) }, "run \(run): a corrupt record was returned")
            let present = Set(records.map(\.sequence))
            let missing = acked.filter { $0 >= r.firstSequence && !present.contains($0) }
            #expect(missing.isEmpty, "run \(run): acknowledged but not recovered: \(missing.prefix(5)) \(r)")
            if let last = acked.last { #expect(r.nextSequence > last, "run \(run)") }
            highest = max(highest ?? 0, acked.last ?? 0)
            log.close()
        }
        #expect(total > 0, "the probe acknowledged records")
    }
}
