import DaxMap
import Glibc
import Testing
@testable import DaxLog

/// What a failing append knows at once, how a torn tail and a lost one differ,
/// and the way back from a truncation (all with real `BUS_ADRERR`s).
@Suite struct DaxLogLossTests {
    /// A log of 100 records on a 1 MiB file, and the first page boundary a
    /// record straddles (a cut there leaves that record's header and tears its bytes).
    static func loggedFile(_ path: String) throws -> (DaxLog, cut: Int) {
        let log = try DaxLog.open(device: try DaxDevice.createEmulated(at: path, size: 1 << 20))
        var at = 4096, cut = 0
        for s in 0..<100 as Range<UInt64> {
            try log.append(payload(s))
            let end = at + LogLayout.recordSize(payload(s).count)
            let page = (at + 4095) / 4096 * 4096
            if cut == 0, at > 8192, page < end, page - at >= LogLayout.recordHeader { cut = page }
            at = end
        }
        return (log, cut)
    }

    @Test func theAppendThatFailsKnowsWhatWasLostBeforeItReturns() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let (log, cut) = try Self.loggedFile(path)
        #expect(cut > 0)
        #expect(truncate(path, off_t(cut)) == 0)
        do {
            try log.append(payload(100))
            Issue.record("an append past the end of the file was acknowledged")
        } catch {
            // Nothing else ran in between: no monitor notice is needed to know.
            let now = log.lostSequences
            #expect(error.code == .failed && error.underlying?.code == .deviceRemoved, "\(error)")
            #expect(now.count == 1 && now.first?.upperBound == 100 && (now.first?.lowerBound ?? 0) > 0, "\(now) \(error)")
            #expect(error.lost == now, "\(error)")
        }
        let known = log.lostSequences
        guard let firstLost = known.first?.lowerBound else { return }

        // Back at full size, the torn record at the cut was acknowledged: a lost tail, not a torn one.
        #expect(truncate(path, 1 << 20) == 0)
        let r = try log.reattach()
        #expect(r.lost == known, "\(r)")
        if case .tornTail(let s, _) = r.stop { #expect(!r.lost.contains { $0.contains(s) }, "a torn tail is never acknowledged, so never lost: \(r)") }
        #expect(r.stop == .lostTail(firstLost: firstLost, deviceOffset: r.stop.lostTailOffset ?? 0), "\(r)")
        #expect(try log.append(payload(100)) == 100)
        log.close()
    }

    @Test func whileTheDeviceIsShortReattachAndOpenSayHowShortAndGrowingItContinues() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let (log, _) = try Self.loggedFile(path)
        #expect(truncate(path, 12288) == 0)
        #expect(throws: DaxLogError.self) { try log.append(payload(100)) }
        let known = log.lostSequences
        #expect(!known.isEmpty)

        do {
            try log.reattach()
            Issue.record("reattached to a 12 KiB file")
        } catch {
            #expect(error.code == .deviceTooSmall, "\(error)")
            #expect(error.message.contains("12288 bytes") && error.message.contains("needs 1048576"), "\(error)")
            #expect(error.message.contains("wait until the device is whole") && error.message.contains("growingEmulatedFile"), "\(error)")
        }
        #expect(log.state == .failed, "a refused reattach leaves the log as it was")
        let short = try DaxDevice.open(path)
        do {
            // Read-only: the failed log still owns the region (it may reattach), so a writer would be `.inUse`.
            _ = try DaxLog.open(device: short, options: .init(creation: .never, readOnly: true))
            Issue.record("opened the log on a 12 KiB file")
        } catch {
            #expect(error.code == .deviceTooSmall && error.message.contains("12288 bytes") && error.message.contains("needs 1048576"), "\(error)")
        }

        // Grown explicitly: the log continues, the cut-off records reported lost, no number reused.
        let r = try log.reattach(growingEmulatedFile: true)
        #expect(r.lost == known, "\(r)")
        #expect(log.device.size == 1 << 20 && log.state == .open)
        #expect(try log.append(payload(100)) == 100)
        log.close()
    }

    @Test func aVersionOneLogOpensAndIsUpgradedAndANewerOneIsRefusedUntouched() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let log = try DaxLog.open(device: try DaxDevice.createEmulated(at: path, size: 1 << 20))
        for s in 0..<10 as Range<UInt64> { try log.append(payload(s)) }
        let header = log.core.withLock { $0.header }
        log.close()
        // Both slots as version 1 wrote them (64 bytes, no lease, checksum at 56).
        for (slot, epoch) in [(0, header.epoch & ~1), (1, header.epoch | 1)] {
            var v1 = [UInt8](repeating: 0, count: LogLayout.slotSize)
            v1.withUnsafeMutableBytes { p in
                p.storeBytes(of: LogLayout.magic.littleEndian, toByteOffset: 0, as: UInt64.self)
                p.storeBytes(of: UInt32(1).littleEndian, toByteOffset: 8, as: UInt32.self)
                p.storeBytes(of: header.generation.littleEndian, toByteOffset: 16, as: UInt64.self)
                p.storeBytes(of: epoch.littleEndian, toByteOffset: 24, as: UInt64.self)
                p.storeBytes(of: header.capacity.littleEndian, toByteOffset: 32, as: UInt64.self)
                p.storeBytes(of: header.headSequence.littleEndian, toByteOffset: 40, as: UInt64.self)
                p.storeBytes(of: header.headPosition.littleEndian, toByteOffset: 48, as: UInt64.self)
                let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: p[0..<56]))
                p.storeBytes(of: crc.littleEndian, toByteOffset: 56, as: UInt32.self)
            }
            patch(path, at: LogLayout.slotOffsets[slot], v1)
        }
        let old = try DaxLog.open(device: try DaxDevice.open(path), options: .init(creation: .never))
        #expect(try old.records().map(\.sequence) == Array(0..<10) && old.recovery.unaccounted.isEmpty, "\(old.recovery)")
        #expect(try old.append(payload(10)) == 10)
        old.close()
        for at in LogLayout.slotOffsets {
            #expect(readBytes(path, at: at + 8, count: 4) == [UInt8(LogLayout.version), 0, 0, 0], "both slots upgraded")
        }

        // A slot of a newer version than this code knows: refused, named, left as it was.
        var newer = readBytes(path, at: 0, count: LogLayout.slotSize)
        newer[8] = UInt8(LogLayout.version + 1)
        patch(path, at: 0, newer)
        let before = readBytes(path, at: 0, count: 4096)
        let device = try DaxDevice.open(path)
        do {
            _ = try DaxLog.open(device: device, options: .init(creation: .never))
            Issue.record("opened a log of a newer version")
        } catch {
            #expect(error.code == .unsupportedVersion && error.message.contains("version \(LogLayout.version + 1)"), "\(error)")
        }
        #expect(readBytes(path, at: 0, count: 4096) == before)
    }
}
