import CDaxLog
import DaxMap
import Glibc
import Testing
@testable import DaxLog

/// A log file is input: checksum-valid headers and records with fields no
/// writer makes are typed errors or counted corruption, never a trap.
@Suite struct CraftedLogTests {
    /// A log of records 0..<5 on a new emulated device; returns its path and generation.
    private func makeLog(_ dir: TemporaryDirectory) throws -> (path: String, generation: UInt64, tail: Int) {
        let path = dir.file("dev")
        let log = try DaxLog.open(device: try DaxDevice.createEmulated(at: path, size: 1 << 20))
        var tail = LogLayout.headerArea
        for s in 0..<5 as Range<UInt64> {
            try log.append(payload(s))
            tail += LogLayout.recordSize(payload(s).count)
        }
        let generation = log.core.withLock { $0.header.generation }
        log.close()
        return (path, generation, tail)
    }

    /// Rewrites the current header slot (epoch 1: slot 1) with `change` applied, checksum recomputed.
    private func craftHeader(_ path: String, _ change: (inout LogHeader) -> Void) {
        let at = LogLayout.slotOffsets[1]
        guard case .valid(var h) = readBytes(path, at: at, count: LogLayout.slotSize).withUnsafeBytes({ LogHeader.decode($0) }) else {
            Issue.record("slot 1 holds no valid header")
            return
        }
        change(&h)
        patch(path, at: at, h.encoded())
    }

    /// A header field set to a value no writer makes.
    enum Crafted: String, CaseIterable, Sendable {
        case headSequenceNearTheTop, headPositionNearTheTop, epochAtTheTop, headPositionMisaligned

        var field: String { self == .epochAtTheTop ? "epoch" : self == .headSequenceNearTheTop ? "head sequence" : "head position" }

        func apply(_ h: inout LogHeader) {
            switch self {
            case .headSequenceNearTheTop: h.headSequence = .max - 1
            case .headPositionNearTheTop: h.headPosition = .max - 4095
            case .epochAtTheTop: h.epoch = .max
            case .headPositionMisaligned: h.headPosition = 12
            }
        }
    }

    @Test(arguments: Crafted.allCases)
    func aHeaderWithAnImpossibleFieldIsACorruptHeaderNamingIt(crafted: Crafted) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (path, _, _) = try makeLog(dir)
        craftHeader(path) { crafted.apply(&$0) }
        for readOnly in [true, false] {
            let device = try DaxDevice.open(path)
            defer { device.close() }
            do throws(DaxLogError) {
                let log = try DaxLog.open(device: device, options: .init(creation: .never, readOnly: readOnly))
                Issue.record("opened a log with a crafted \(crafted.field): \(log.recovery)")
            } catch {
                #expect(error.code == .corruptHeader, "\(error)")
                #expect(error.message.contains(crafted.field) && error.message.contains("slot 1"), "\(error)")
            }
        }
    }

    @Test(arguments: [UInt64.max, (UInt64(1) << 62) + 1])
    func aGapToAnImpossibleSequenceIsATornTailNotATrap(resume: UInt64) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (path, generation, tail) = try makeLog(dir)
        var gap = [UInt8](repeating: 0, count: LogLayout.recordSize(8))
        withUnsafeBytes(of: resume.littleEndian) { p in
            gap.withUnsafeMutableBytes { LogLayout.encode(type: LogLayout.typeGap, sequence: 5, bytes: p, generation: generation, into: $0) }
        }
        patch(path, at: tail, gap)
        let log = try DaxLog.open(device: try DaxDevice.open(path), options: .init(creation: .never, readOnly: true))
        #expect(log.recovery.stop == .tornTail(sequence: 5, deviceOffset: UInt64(tail)))
        #expect(log.recovery.nextSequence == 5 && log.recovery.lostCount == 0, "\(log.recovery)")
        #expect(try log.records().map(\.sequence) == [0, 1, 2, 3, 4])
    }

    @Test func aGapThatRecordsAfterItContradictIsCountedCorruption() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let log = try DaxLog.open(device: try DaxDevice.createEmulated(at: path, size: 1 << 20))
        for s in 0..<8 as Range<UInt64> { try log.append(payload(s)) }
        let generation = log.core.withLock { $0.header.generation }
        log.close()
        // Record 3 replaced by a checksum-valid gap to 2^64-1 of the same size.
        var at = LogLayout.headerArea
        for s in 0..<3 as Range<UInt64> { at += LogLayout.recordSize(payload(s).count) }
        #expect(LogLayout.recordSize(payload(3).count) >= LogLayout.recordSize(8))
        var gap = [UInt8](repeating: 0, count: LogLayout.recordSize(8))
        withUnsafeBytes(of: UInt64.max.littleEndian) { p in
            gap.withUnsafeMutableBytes { LogLayout.encode(type: LogLayout.typeGap, sequence: 3, bytes: p, generation: generation, into: $0) }
        }
        patch(path, at: at, gap)
        let again = try DaxLog.open(device: try DaxDevice.open(path), options: .init(creation: .never, readOnly: true))
        #expect(again.recovery.corrupted == [3..<4] && again.recovery.lost == [3..<4], "\(again.recovery)")
        #expect(try again.records().map(\.sequence) == [0, 1, 2, 4, 5, 6, 7])
    }

    @Test func lostCountOfRangesPastIntMaxDoesNotTrap() {
        let r = DaxLogRecovery(firstSequence: 0, nextSequence: .max, recordCount: 0, lost: [0..<(.max - 1), (.max - 1)..<(.max)],
                               failedRanges: [], stop: .cleanEnd)
        #expect(r.lostCount == .max)
        #expect(r.description.contains("\(UInt64.max) lost"))
    }
}
