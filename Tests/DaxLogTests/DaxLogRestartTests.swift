import DaxMap
import Glibc
import Testing
@testable import DaxLog

/// Losses that outlive the process that saw them: a service acknowledges
/// records, the media loses some, the service exits before any reattach, and
/// a new process opens the log once the device is back.
@Suite struct DaxLogRestartTests {
    static var probe: String { buildDirectory + "/daxlog-probe" }

    /// The ranges of a probe's "KEY a..<b c..<d" line.
    static func ranges(_ stdout: String, _ key: String) -> [Range<UInt64>]? {
        guard let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix(key + " ") || $0 == key }) else { return nil }
        return line.split(separator: " ").compactMap { word -> Range<UInt64>? in
            let parts = word.split(separator: ".").filter { !$0.isEmpty }
            guard parts.count == 2, let lo = UInt64(parts[0]), let hi = UInt64(parts[1].dropFirst()) else { return nil }
            return lo..<hi
        }
    }

    @Test func aLossTheServiceLearntOfIsReportedByNumberAfterARestartAndNoNumberIsReused() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let size = 4 << 20, records: UInt64 = 8_000
        // About 1.4 MiB of records; the file is cut 1 MiB into them, the child's
        // next append gets a real BUS_ADRERR, and it exits without a reattach.
        let result = runShell("\(quoted(Self.probe)) \(quoted(path)) \(size) --truncate-after \(records) \(4096 + (1 << 20))")
        #expect(result.status == 0, "\(result.stdout.suffix(500)) \(result.stderr)")
        let known = Self.ranges(result.stdout, "lostSequences") ?? []
        #expect(result.stdout.contains("failed failed deviceRemoved"), "\(result.stdout.suffix(500))")
        #expect(known.count == 1 && known.last?.upperBound == records && known[0].lowerBound > 1000,
                "the failing append knew at once what the cut took: \(result.stdout.suffix(500))")
        #expect(Self.ranges(result.stdout, "failed failed deviceRemoved lost") == known, "the error carries it: \(result.stdout.suffix(500))")

        // The device comes back at full size (zeros where the cut was); a new process opens the log.
        #expect(truncate(path, off_t(size)) == 0)
        let log = try DaxLog.open(device: try DaxDevice.open(path), options: .init(creation: .never))
        let r = log.recovery
        #expect(r.lost == known && !r.lost.isEmpty, "\(r)")
        let firstLost = r.lost.first?.lowerBound ?? r.nextSequence
        #expect(r.unaccounted.isEmpty && r.nextSequence == records, "\(r)")
        #expect(r.stop == .lostTail(firstLost: firstLost, deviceOffset: r.stop.lostTailOffset ?? 0), "\(r)")
        let back = try log.records()
        #expect(back.map(\.sequence) == Array(0..<firstLost))
        #expect(back.allSatisfy { $0.bytes == payload($0.sequence) })
        #expect(try log.append(payload(records)) == records, "numbers of acknowledged records are never reused")
        log.close()

        // And any later process still knows.
        let again = try DaxLog.open(device: try DaxDevice.open(path), options: .init(creation: .never))
        #expect(again.recovery.lost == known && again.recovery.unaccounted.isEmpty, "\(again.recovery)")
        #expect(try again.records().map(\.sequence) == Array(0..<firstLost) + [records])
        again.close()
    }

    @Test func aLossNoProcessLearntOfReusesNoNumberAndIsReportedAsUnaccounted() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let size = 4 << 20, records: UInt64 = 5_000
        // The service acknowledges records and exits without closing (a crash at a clean point).
        let result = runShell("\(quoted(Self.probe)) \(quoted(path)) \(size) --exit-after \(records)")
        #expect(result.status == 0 && result.stdout.contains("acked 0..<\(records)"), "\(result.stdout.suffix(500)) \(result.stderr)")

        // A clean crash is no loss: nothing lost, the numbers past the last record are unaccounted, none reused.
        let first = try DaxLog.open(device: try DaxDevice.open(path, options: .init(readOnly: true)),
                                    options: .init(creation: .never, readOnly: true))
        #expect(first.recovery.lost.isEmpty && first.recovery.recordCount == Int(records), "\(first.recovery)")
        #expect(first.recovery.unaccounted.count == 1 && first.recovery.unaccounted.first?.lowerBound == records, "\(first.recovery)")
        if case .cleanEnd = first.recovery.stop {} else { Issue.record("\(first.recovery)") }
        first.close()

        // Then the media loses the tail of what was acknowledged, and no process is there to see it.
        #expect(truncate(path, 4096 + (64 << 10)) == 0 && truncate(path, off_t(size)) == 0)
        let log = try DaxLog.open(device: try DaxDevice.open(path), options: .init(creation: .never))
        let r = log.recovery
        let found = try log.records().map(\.sequence)
        #expect(found.count > 100 && found == Array(0..<UInt64(found.count)), "\(r)")
        #expect(r.lost.isEmpty, "nobody recorded a loss: \(r)")
        let gone = UInt64(found.count)..<records
        #expect(r.unaccounted.contains { $0.lowerBound <= gone.lowerBound && $0.upperBound >= gone.upperBound },
                "the acknowledged numbers not found are reported: \(r)")
        let next = try log.append(payload(records))
        #expect(r.nextSequence >= records && next >= records, "no acknowledged number is reused: \(r)")
        log.close()
    }
}

extension DaxLogRecovery.StopReason {
    /// The device offset of a `.lostTail` (for comparing the rest of it).
    var lostTailOffset: UInt64? {
        if case .lostTail(_, let o) = self { return o }
        return nil
    }
}
