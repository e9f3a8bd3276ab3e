import Glibc
import Testing
@testable import DaxMap
import DaxMapTesting

/// DaxDevice.scrub on emulated devices: every failed range found with real
/// faults, merged, compared with the badblocks, cleared only when asked.
@Suite struct ScrubTests {
    private let page = UInt64(pageSize)

    @Test func aCleanDeviceScrubsCleanWithProgress() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 8 << 20)
        var ticks: [DaxScrubProgress] = []
        let report = try device.scrub(progressInterval: .zero) { ticks.append($0) }
        #expect(report.isClean && report.bytesScanned == 8 << 20)
        #expect(report.knownBadblocks.isEmpty && report.foundOnly.isEmpty)
        #expect(ticks.count >= 2)
        #expect(ticks.last?.bytesScanned == 8 << 20 && ticks.last?.fraction == 1)
        #expect(zip(ticks, ticks.dropFirst()).allSatisfy { $0.bytesScanned <= $1.bytesScanned })
    }

    @Test func everyInjectedFailureIsFoundMergedAndComparedWithTheBadblocks() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 256 * page)
        let injector = try DaxFaultInjector(device)
        try injector.inject(.media, offset: 0)                          // the first page
        try injector.inject(.media, offset: 10 * page, length: 3 * page) // three touching pages: one range
        try injector.inject(.removed, offset: 100 * page, length: 2 * page)
        try injector.inject(.media, offset: 255 * page)                 // the last page
        // A holder of the device: a scrub that meets poison is a consumer like any other.
        let holder = RecordingHolder("h")
        let held = try device.map(offset: 192 * page, length: 16 * page, holder: holder)
        try injector.inject(.media, offset: 200 * page)

        let report = try device.scrub()
        #expect(report.bytesScanned == 256 * page)
        #expect(report.failedRanges == [
            DaxFailedRange(range: 0..<page, kind: .poison),
            DaxFailedRange(range: (10 * page)..<(13 * page), kind: .poison),
            DaxFailedRange(range: (100 * page)..<(102 * page), kind: .removed),
            DaxFailedRange(range: (200 * page)..<(201 * page), kind: .poison),
            DaxFailedRange(range: (255 * page)..<(256 * page), kind: .poison),
        ])
        #expect(report.foundOnly.isEmpty && report.knownOnly.isEmpty)
        #expect(report.foundAndKnown.count == 5)
        #expect(device.lifecycle == .alive)
        #expect(await holder.waitFor(.memoryFailureActionOptional)?.range == (200 * page)..<(201 * page))
        #expect(holder.failures.allSatisfy { $0.range == (200 * page)..<(201 * page) }, "only the range it holds: \(holder.failures)")
        withExtendedLifetime(held) {}
    }

    @Test func aRangeScrubSeesOnlyItsRange() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let device = try DaxDevice.createEmulated(at: path, size: 64 * page)
        let injector = try DaxFaultInjector(device)
        try injector.inject(.media, offset: 3 * page)
        let report = try device.scrub(range: 0..<(32 * page))
        #expect(report.foundAndKnown == [(3 * page)..<(4 * page)])
        #expect(report.range == 0..<(32 * page) && report.bytesScanned == 32 * page)
        let outside = try device.scrub(range: (32 * page)..<(64 * page))
        #expect(outside.isClean && outside.knownBadblocks.isEmpty)
    }

    @Test func moreFailuresThanAMappingCanMarkAreAllFound() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 400 * page)
        let injector = try DaxFaultInjector(device)
        let pages = stride(from: UInt64(1), to: 400, by: 3).map { $0 }  // 133 separate pages
        for p in pages { try injector.inject(.media, offset: p * page) }
        let report = try device.scrub()
        #expect(report.failedRanges.map(\.range) == pages.map { ($0 * page)..<(($0 + 1) * page) })
        #expect(report.bytesScanned == 400 * page)
        #expect(report.foundAndKnown.count == pages.count)
    }

    @Test func poisonTheKernelReportedToThisProcessIsFoundThoughThePageReadsFine() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 64 * page)
        let held = try device.map()
        // A real BUS_MCEERR_AO (self-sent, positive si_code) marks the page in `held`;
        // the memory itself reads fine, as after the kernel "recovers" software poison.
        _ = held.raiseForTesting(code: BUS_MCEERR_AO_, at: Int(9 * page), addressLSB: 12, guarded: false)
        try #require(held.failures == [DaxFailedRange(range: (9 * page)..<(10 * page), kind: .poison)])
        let report = try device.scrub()
        #expect(report.failedRanges == [DaxFailedRange(range: (9 * page)..<(10 * page), kind: .poison)])
        #expect(report.foundOnly == [(9 * page)..<(10 * page)])
        held.close()
        #expect(try device.scrub().isClean, "a closed mapping's marks are history, not the device's state")
    }

    @Test func aTruncatedTailIsFoundAsRemovedAndCannotBeCleared() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let device = try DaxDevice.createEmulated(at: path, size: 64 * page)
        truncateFile(path, to: Int(40 * page))
        let report = try device.scrub(clear: true)
        #expect(report.failedRanges == [DaxFailedRange(range: (40 * page)..<(64 * page), kind: .removed)])
        #expect(report.foundOnly == [(40 * page)..<(64 * page)])
        #expect(report.cleared.isEmpty) // nothing injected there: the memory is gone
    }

    @Test func clearOnlyWhenAskedAndAReScrubFindsNothing() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 64 * page)
        let injector = try DaxFaultInjector(device)
        try injector.inject(.media, offset: 7 * page, length: 2 * page)
        let first = try device.scrub()
        #expect(first.failedRanges.map(\.range) == [(7 * page)..<(9 * page)])
        #expect(try injector.injected().count == 1, "a scrub without clear changes nothing")
        let clearing = try device.scrub(clear: true)
        #expect(clearing.cleared == [(7 * page)..<(9 * page)] && clearing.clearError == nil)
        #expect(try injector.injected().isEmpty && device.badblocks.isEmpty)
        #expect(try device.scrub().isClean)
    }

    @Test(arguments: [
        (UInt64(0), UInt64(0), DaxError.Code.outOfRange),
        (0, 65 * 4096, .outOfRange),
        (1, 4096, .misaligned),
        (0, 4097, .misaligned),
    ])
    func badRangesAreTypedErrors(lower: UInt64, upper: UInt64, code: DaxError.Code) throws {
        try #require(pageSize == 4096)
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: 64 * page)
        let error = #expect(throws: DaxError.self) { try device.scrub(range: lower..<upper) }
        #expect(error?.code == code && error?.path == device.path)
        let clearError = #expect(throws: DaxError.self) { try device.clearErrors(in: lower..<upper) }
        #expect(clearError?.code == code)
    }
}

/// `daxmap scrub`.
@Suite struct ScrubCommandTests {
    private var cli: String { buildDirectory + "/daxmap" }
    private let page = UInt64(pageSize)

    @Test func jsonListsTheFailedRangesAndTheExitStatusSaysSo() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("a device")
        let device = try DaxDevice.createEmulated(at: path, size: 64 * page)
        let clean = runProgram([cli, "scrub", path, "--json"])
        #expect(clean.status == 0, "\(clean.stderr)")
        #expect(clean.stdout.contains("\"bytesScanned\":\(64 * page),\"failedRanges\":[]"), "\(clean.stdout)")

        let inject = runProgram([cli, "inject", path, "--offset", String(5 * page), "--length", String(2 * page)])
        #expect(inject.status == 0, "\(inject.stderr)")
        let found = runProgram([cli, "scrub", path, "--json"])
        #expect(found.status == 2, "\(found.stderr)")
        #expect(found.stdout.contains("\"failedRanges\":[{\"offset\":\(5 * page),\"length\":\(2 * page),\"kind\":\"poison\"}]"), "\(found.stdout)")
        #expect(found.stdout.contains("\"foundOnly\":[]"))
        #expect(found.stderr.contains("scrub \(path): 100.0 %"), "plain progress lines off a terminal: \(found.stderr)")
        #expect(device.badblocks.count == 1, "no clear without --clear")

        let cleared = runProgram([cli, "scrub", path, "--clear"])
        #expect(cleared.status == 2, "\(cleared.stdout) \(cleared.stderr)") // found (and cleared)
        #expect(cleared.stdout.contains("cleared [\(5 * page), \(7 * page))"), "\(cleared.stdout)")
        let again = runProgram([cli, "scrub", path])
        #expect(again.status == 0 && again.stdout.contains("no failed ranges"), "\(again.stdout)")
    }

    @Test func hwpoisonWhereTheKernelRefusesItExits4() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        _ = try DaxDevice.createEmulated(at: path, size: 64 * page)
        let result = runProgram([cli, "scrub", path, "--hwpoison", "8192"])
        if result.status == 4 {
            #expect(result.stderr.contains("MADV_HWPOISON refused"), "\(result.stderr)")
        } else {
            // A kernel with memory-failure support: the poisoned page is found.
            #expect(result.status == 2 && result.stdout.contains("poison [8192, 12288)"), "\(result.stdout) \(result.stderr)")
        }
        let past = runProgram([cli, "scrub", path, "--hwpoison", String(64 * page)])
        #expect(past.status == 1 && past.stderr.contains("past the end"), "\(past.stderr)")
    }

    // Bad inputs: rows of the one table in CLIBadInputTests.
}

/// A store through a read-only mapping is refused, not taken for a revocation.
@Suite struct ReadOnlyStoreTests {
    @Test func writesToAReadOnlyMappingArePermissionErrors() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: UInt64(pageSize))
        let mapping = try device.map(options: .init(readOnly: true))
        let fill = #expect(throws: DaxError.self) { try mapping.fill(1, at: 0, count: 8) }
        #expect(fill?.code == .permissionDenied)
        let bytes: [UInt8] = [1, 2, 3]
        let write = #expect(throws: DaxError.self) { try bytes.withUnsafeBytes { try mapping.write($0, at: 0) } }
        #expect(write?.code == .permissionDenied)
        #expect(mapping.isUsable)
    }
}
