import ArgumentParser
import DaxLog
import DaxMap
import DaxMapTesting
import Glibc

/// `daxmap poison PATH --offset N --log --force`: real poison under a record
/// log. Formats a DaxLog over the first `LogPoison.logLength` bytes of the
/// device, appends records past the page, poisons the page through a second
/// mapping of the same process (MADV_HWPOISON: the kernel unmaps the page from
/// every mapping and signals), then reads every record back and appends on.
/// The records overlapping the failed extent the kernel reports must be
/// reported lost by sequence number, every other record must come back
/// intact, and appends must continue. One JSON object (or a line of text).
struct LogPoison {
    static let logLength: UInt64 = 8 << 20
    static let payloadSize = 1000

    let path: String
    let offset: UInt64
    let json: Bool

    /// The payload of record `sequence` (checked on the way back).
    static func payload(_ sequence: UInt64) -> [UInt8] {
        (0..<payloadSize).map { UInt8(truncatingIfNeeded: sequence &* 131 &+ UInt64($0) &* 7) }
    }

    func run() async throws {
        let device: DaxDevice
        do { device = try DaxDevice.open(path, options: .init(requiredGranularity: .page)) } catch { throw fail(error) }
        let length = min(LogPoison.logLength, device.size / device.alignment * device.alignment)
        let recordSize = UInt64((24 + LogPoison.payloadSize + 7) & ~7)
        // The page in the data area (past the 4 KiB header), with room for records past its extent.
        guard offset >= 4096, offset <= length, length - offset >= (2 << 20) + 4 * recordSize else {
            printError("daxmap: poison --log: offset \(offset) must be at least 4096 and 2 MiB + 4 records before the end of the log, which covers the first \(length) bytes of \(path)")
            throw ExitCode(64)
        }
        let log: DaxLog
        do {
            // 4 KiB pages on DAX files: the kernel cannot poison a 2 MiB fsdax mapping.
            log = try DaxLog.open(device: device, length: length,
                                  options: .init(creation: .overwrite, mapping: .init(largePages: false)))
        } catch {
            printError("daxmap: \(error)")
            throw ExitCode(1)
        }
        defer { log.close() }
        // Records up to well past the page (the tail stays out of a 2 MiB extent around it).
        let stop = min(length - recordSize, offset + (2 << 20) + 2 * recordSize)
        var appended: UInt64 = 0
        do {
            while 4096 + appended * recordSize + recordSize <= stop {
                _ = try log.append(LogPoison.payload(appended))
                appended += 1
            }
        } catch {
            printError("daxmap: \(error)")
            throw ExitCode(1)
        }
        // Poison the page through a mapping of the chunk around it.
        let chunk = offset / device.alignment * device.alignment
        let mapping: DaxMapping
        do { mapping = try device.map(offset: chunk, length: device.alignment, options: .init(largePages: false)) } catch { throw fail(error) }
        defer { mapping.close() }
        switch mapping.injectMemoryFailure(at: Int(offset - chunk)) {
        case .unsupported(let errno):
            printLine(json ? JSON.object([("supported", .bool(false)), ("errno", .int(Int64(errno.rawValue)))]).rendered(pretty: false)
                           : "poison refused: MADV_HWPOISON (\(errno))")
            throw ExitCode(4)
        case .notRaised, .caught:
            break
        }
        // The extent the kernel said failed (si_addr_lsb: a page on fsdax, the 2 MiB
        // extent on device-dax), as the log was told it; else the poisoning mapping's mark.
        // Holders are told asynchronously: wait for it, bounded (a slow guest takes longer).
        func toldOfPoison() -> DaxFailure? {
            log.failuresReceived.first {
                ($0.kind == .memoryFailureActionRequired || $0.kind == .memoryFailureActionOptional) && $0.range.contains(offset)
            }
        }
        let clock = ContinuousClock()
        let giveUp = clock.now + .seconds(10)
        while toldOfPoison() == nil && clock.now < giveUp { try? await Task.sleep(for: .milliseconds(20)) }
        let told = toldOfPoison()
        let failed = told?.range ?? mapping.failures.first { $0.range.contains(offset) }?.range ?? offset..<(offset + 4096)
        let expected = (0..<appended).filter { s in
            let start = 4096 + s * recordSize
            return start < failed.upperBound && failed.lowerBound < start + recordSize
        }
        let records: [DaxLogRecord]
        do { records = try log.records() } catch {
            printError("daxmap: \(error)")
            throw ExitCode(1)
        }
        let lost = log.lostSequences.flatMap { Array($0) }
        let returned = Set(records.map(\.sequence))
        let intact = records.allSatisfy { $0.bytes == LogPoison.payload($0.sequence) }
        let missing = (0..<appended).filter { !returned.contains($0) && !lost.contains($0) }
        var appendedAfter = 0
        var appendError: String?
        do {
            for _ in 0..<8 {
                _ = try log.append(LogPoison.payload(log.nextSequence))
                appendedAfter += 1
            }
        } catch { appendError = "\(error)" }
        let ok = told != nil && Set(lost) == Set(expected) && missing.isEmpty && intact && appendedAfter == 8
            && returned.isDisjoint(with: lost)
        let summary = "log of \(appended) records, page \(offset) poisoned, extent [\(failed.lowerBound), \(failed.upperBound)): lost \(lost.count) (expected \(expected.count)), returned \(records.count) (intact: \(intact)), unaccounted \(missing.count), appended after \(appendedAfter)"
        if json {
            let list = { (v: [UInt64]) in JSON.array(v.map { JSON.uint($0) }) }
            printLine(JSON.object([
                ("supported", .bool(true)), ("ok", .bool(ok)), ("appended", .uint(appended)),
                ("failedOffset", .uint(failed.lowerBound)), ("failedLength", .uint(UInt64(failed.count))),
                ("logTold", .bool(told != nil)),
                ("lost", list(lost)), ("expectedLost", list(expected)), ("returned", .int(Int64(records.count))),
                ("intact", .bool(intact)), ("unaccounted", list(missing)), ("appendedAfter", .int(Int64(appendedAfter))),
                ("appendError", appendError.map { .string($0) } ?? .null),
            ]).rendered(pretty: false))
        } else {
            printLine(summary)
        }
        if !ok { throw ExitCode(1) }
    }
}
