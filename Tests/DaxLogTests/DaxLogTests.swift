import CDaxLog
import DaxMap
import Glibc
import Testing
@testable import DaxLog

/// The log on an emulated device: append, recover, torn and corrupted records, space.
@Suite struct DaxLogTests {
    @Test func crc32cHardwareMatchesPortableAndTheStandardVector() {
        let check = Array("123456789".utf8)
        #expect(cdaxlog_crc32c(0, check, check.count) == 0xE306_9283)
        #expect(cdaxlog_crc32c_portable(0, check, check.count) == 0xE306_9283)
        var g = SystemRandomNumberGenerator()
        // Around the three-lane thresholds (3 x 256 and 3 x 4096 bytes) too.
        for n in [0, 1, 7, 8, 9, 63, 64, 65, 767, 768, 769, 1000, 1543, 4099, 12287, 12288, 12289, 13056, 40_000] {
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
            #expect(cdaxlog_crc32c(7, bytes, n) == cdaxlog_crc32c_portable(7, bytes, n), "length \(n)")
            // From an odd address: the head before the 8-byte alignment.
            if n > 3 { bytes.withUnsafeBytes { b in #expect(cdaxlog_crc32c(9, b.baseAddress! + 3, n - 3) == cdaxlog_crc32c_portable(9, b.baseAddress! + 3, n - 3), "length \(n - 3) at +3") } }
        }
    }

    @Test func appendThenReopenRecoversEveryRecordInOrder() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 1 << 20)
        let log = try DaxLog.open(device: device)
        #expect(log.recovery.stop == .cleanEnd && log.recovery.recordCount == 0)
        for s in 0..<50 as Range<UInt64> { #expect(try log.append(payload(s)) == s) }
        let batch = try log.append(contentsOf: (50..<60 as Range<UInt64>).map(payload))
        #expect(batch == 50..<60)
        log.close()
        device.close()

        let again = try DaxLog.open(device: try DaxDevice.open(dir.file("dev")), options: .init(creation: .never))
        #expect(again.recovery.stop == .cleanEnd)
        #expect(again.recovery.recordCount == 60 && again.recovery.nextSequence == 60 && again.recovery.lost.isEmpty)
        let records = try again.records()
        #expect(records.map(\.sequence) == Array(0..<60))
        #expect(records.allSatisfy { $0.bytes == payload($0.sequence) })
        #expect(try again.append(payload(60)) == 60)
    }

    @Test func aTornLastRecordIsNeverReturned() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let log = try DaxLog.open(device: try DaxDevice.createEmulated(at: path, size: 1 << 20))
        var at = 4096
        for s in 0..<5 as Range<UInt64> {
            try log.append(payload(s))
            if s < 4 { at += LogLayout.recordSize(payload(s).count) }
        }
        log.close()
        // The last record's second half never reached the media.
        let size = LogLayout.recordSize(payload(4).count)
        patch(path, at: at + size / 2, [UInt8](repeating: 0, count: size - size / 2))
        let again = try DaxLog.open(device: try DaxDevice.open(path), options: .init(creation: .never))
        #expect(again.recovery.stop == .tornTail(sequence: 4, deviceOffset: UInt64(at)))
        #expect(try again.records().map(\.sequence) == [0, 1, 2, 3])
        // Its number was handed out (the close persisted the lease at 5): never reused, not claimed lost.
        #expect(again.recovery.unaccounted == [4..<5] && again.recovery.lost.isEmpty, "\(again.recovery)")
        #expect(again.nextSequence == 5)
        #expect(try again.append(payload(5)) == 5, "the torn record's place is reused, its number is not")
        again.close()
        let third = try DaxLog.open(device: try DaxDevice.open(path), options: .init(creation: .never))
        #expect(try third.records().map(\.sequence) == [0, 1, 2, 3, 5] && third.recovery.unaccounted == [4..<5], "\(third.recovery)")
    }

    @Test(arguments: [30, 6]) // a payload byte, then a byte of the header (its length)
    func aCorruptedRecordInTheMiddleIsLostAndTheRecordsAfterItAreReturned(byteOffset: Int) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let log = try DaxLog.open(device: try DaxDevice.createEmulated(at: path, size: 1 << 20))
        for s in 0..<5 as Range<UInt64> { try log.append(payload(s)) }
        log.close()
        let at = 4096 + LogLayout.recordSize(payload(0).count) + LogLayout.recordSize(payload(1).count)
        var byte = readBytes(path, at: at + byteOffset, count: 1)
        byte[0] ^= 0x40
        patch(path, at: at + byteOffset, byte)
        let again = try DaxLog.open(device: try DaxDevice.open(path), options: .init(creation: .never))
        #expect(again.recovery.stop == .cleanEnd)
        #expect(again.recovery.corrupted == [2..<3] && again.recovery.lost == [2..<3])
        #expect(try again.records().map(\.sequence) == [0, 1, 3, 4])
        #expect(again.state == .open && again.nextSequence == 5)
        #expect(try again.append(payload(5)) == 5)
        again.close()
        let third = try DaxLog.open(device: try DaxDevice.open(path), options: .init(creation: .never))
        #expect(try third.records().map(\.sequence) == [0, 1, 3, 4, 5] && third.recovery.corrupted == [2..<3])
    }

    /// A batch the power cut short: a later record of it reached the media, an earlier one did not.
    @Test func aTornBatchIsATornTailAndItsStaleRecordsAreErased() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let log = try DaxLog.open(device: try DaxDevice.createEmulated(at: path, size: 1 << 20))
        for s in 0..<3 as Range<UInt64> { try log.append(payload(s)) }
        try log.append(contentsOf: (3..<7 as Range<UInt64>).map(payload))
        log.close()
        var at = 4096
        for s in 0..<4 as Range<UInt64> { at += s < 3 ? LogLayout.recordSize(payload(s).count) : 0 }
        // Record 3 (the batch's first) torn; 4, 5, 6 intact, as eviction can leave them.
        var byte = readBytes(path, at: at + 40, count: 1)
        byte[0] ^= 0x01
        patch(path, at: at + 40, byte)
        let again = try DaxLog.open(device: try DaxDevice.open(path), options: .init(creation: .never))
        #expect(again.recovery.stop == .tornTail(sequence: 3, deviceOffset: UInt64(at)))
        #expect(again.recovery.corrupted.isEmpty && again.recovery.lost.isEmpty)
        #expect(try again.records().map(\.sequence) == [0, 1, 2] && again.state == .open)
        // Its numbers were handed out (the close persisted the lease at 7): skipped, never reused.
        #expect(again.recovery.unaccounted == [3..<7] && again.nextSequence == 7, "\(again.recovery)")
        // Erased: the batch's later record headers are zeros now (the torn one's place holds the skip record).
        var position = at + LogLayout.recordSize(payload(3).count)
        for s in 4..<7 as Range<UInt64> {
            #expect(readBytes(path, at: position, count: LogLayout.recordHeader).allSatisfy { $0 == 0 }, "record \(s)")
            position += LogLayout.recordSize(payload(s).count)
        }
        // New records of other sizes go where the batch was; none of its records comes back.
        try again.append([UInt8](repeating: 9, count: payload(3).count))
        again.close()
        let third = try DaxLog.open(device: try DaxDevice.open(path), options: .init(creation: .never))
        #expect(try third.records().map(\.sequence) == [0, 1, 2, 7] && third.recovery.stop == .cleanEnd, "\(third.recovery)")
    }

    @Test func somethingElseIsRefusedAndLeftUntouchedUnlessOverwriteIsAsked() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        _ = try DaxDevice.createEmulated(at: path, size: 1 << 20)
        patch(path, at: 0, Array("precious user data".utf8))
        let d = try DaxDevice.open(path)
        do {
            _ = try DaxLog.open(device: d)
            Issue.record("opened a log over user data")
        } catch {
            #expect(error.code == .notALog)
            #expect(error.message.contains("untouched"))
        }
        #expect(readBytes(path, at: 0, count: 18) == Array("precious user data".utf8))
        do {
            _ = try DaxLog.open(device: d, options: .init(creation: .never))
        } catch { #expect(error.code == .notALog) }
        let fresh = try DaxLog.open(device: try DaxDevice.open(path), options: .init(creation: .overwrite))
        #expect(fresh.nextSequence == 0)
    }

    @Test func badRegionsAreTypedErrors() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 1 << 20)
        for (offset, length) in [(0 as UInt64, 4096 as UInt64), (4096, 1 << 20), (UInt64.max - 4095, 8192), (100, 8192)] {
            do {
                _ = try DaxLog.open(device: device, offset: offset, length: length)
                Issue.record("opened [\(offset), +\(length))")
            } catch { #expect(error.code == .invalidArgument, "\(error)") }
        }
        let log = try DaxLog.open(device: device, offset: 0, length: 16384)
        do { try log.append([UInt8](repeating: 1, count: log.maximumRecordSize + 1)) } catch {
            #expect(error.code == .invalidArgument)
        }
        do { try log.append(contentsOf: []) } catch { #expect(error.code == .invalidArgument) }
        do { try log.discard(upTo: 5) } catch { #expect(error.code == .invalidArgument) }
    }

    @Test func aFullLogSaysSoAndDiscardingMakesRoomAcrossTheWrap() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let log = try DaxLog.open(device: try DaxDevice.createEmulated(at: path, size: 1 << 20), offset: 0, length: 16384)
        var s: UInt64 = 0
        var sawFull = false
        // Ten laps of a 12 KiB circle, discarding as a checkpointing writer would.
        while s < 400 {
            do {
                #expect(try log.append(payload(s)) == s)
                s += 1
            } catch {
                #expect(error.code == .full, "\(error)")
                sawFull = true
                try log.discard(upTo: s - 3)
            }
        }
        #expect(sawFull)
        let first = log.firstSequence
        log.close()
        let again = try DaxLog.open(device: try DaxDevice.open(path), offset: 0, length: 16384, options: .init(creation: .never))
        #expect(again.recovery.stop == .cleanEnd)
        #expect(again.firstSequence == first && again.nextSequence == 400)
        let records = try again.records()
        #expect(records.map(\.sequence) == Array(first..<400))
        #expect(records.allSatisfy { $0.bytes == payload($0.sequence) })
    }

    @Test func concurrentAppendersGetDistinctNumbersAndEveryRecordComesBack() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let log = try DaxLog.open(device: try DaxDevice.createEmulated(at: path, size: 4 << 20))
        let got = await withTaskGroup(of: [(UInt64, [UInt8])].self) { group in
            for t in 0..<4 {
                group.addTask {
                    var mine: [(UInt64, [UInt8])] = []
                    for i in 0..<150 {
                        let bytes = [UInt8(t), UInt8(i & 0xFF)] + [UInt8](repeating: UInt8(t), count: i % 40)
                        if i % 10 == 0, let r = try? log.append(contentsOf: [bytes, bytes]) {
                            for s in r { mine.append((s, bytes)) }
                        } else if let s = try? log.append(bytes) {
                            mine.append((s, bytes))
                        }
                    }
                    return mine
                }
            }
            var all: [(UInt64, [UInt8])] = []
            for await part in group { all += part }
            return all
        }
        #expect(got.count == 4 * 165)
        #expect(Set(got.map(\.0)).count == got.count)
        log.close()
        let again = try DaxLog.open(device: try DaxDevice.open(path), options: .init(creation: .never))
        let byNumber = Dictionary(uniqueKeysWithValues: try again.records().map { ($0.sequence, $0.bytes) })
        #expect(byNumber.count == got.count)
        #expect(got.allSatisfy { byNumber[$0.0] == $0.1 })
    }
}
