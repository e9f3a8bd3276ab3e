import ArgumentParser
import DaxMap
import DaxMapTesting
import Glibc

/// Reads a device through guarded accesses and reports every failed range.
struct ScrubCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scrub",
        abstract: "Read the whole device (or a range) and find every failed range without crashing.",
        discussion: """
            Compares what it finds with the device's known badblocks. Progress goes to standard error: a live \
            line on a terminal, a plain line every --progress-every seconds otherwise. Exit status: 0 nothing found, 2 failures \
            found, 3 failures found and --clear could not clear them all, 4 --hwpoison refused by the kernel \
            (asked first: nothing written), 1 an error, 64 bad arguments (a byte count that is not one, \
            --progress-every outside 0.1 to 86400). \
            Never clears without --clear (a DAX file: punch a hole and reallocate; device-dax: the bus's \
            clear-error command where it has one; an emulated device: its injected failures).
            """)

    @Argument(help: "A /dev/daxX.Y, a DAX file or an emulated device.")
    var path: String

    @Option(parsing: .unconditional, help: "Start of the range (device offset, a multiple of the alignment).")
    var offset: String?

    @Option(parsing: .unconditional, help: "Bytes to scrub (default: to the end).")
    var length: String?

    @Flag(help: "Clear the failed ranges found (their data is lost).")
    var clear = false

    @Flag(help: "Print one JSON object at the end.")
    var json = false

    @Option(help: "Seconds between progress lines when standard error is not a terminal.")
    var progressEvery: Double = 5

    @Option(parsing: .unconditional,
            help: "For test harnesses: first poison the page at this device offset with MADV_HWPOISON through a mapping of this process (root, CONFIG_MEMORY_FAILURE; its data is lost), then scrub.")
    var hwpoison: String?

    func validate() throws {
        // Seconds become milliseconds in an Int64: nan, inf, 1e308 and negatives would trap there.
        guard progressEvery.isFinite, progressEvery >= 0.1, progressEvery <= 86400 else {
            throw ValidationError("--progress-every must be a number of seconds from 0.1 to 86400, not \(progressEvery)")
        }
    }

    func run() throws {
        // The byte counts first: a bad one exits 64 before the device is opened, as for every command.
        var poisonAt: UInt64?, start: UInt64 = 0, asked: UInt64?
        do throws(DaxError) {
            if let hwpoison { poisonAt = try parseBytes(hwpoison, option: "--hwpoison", operation: "scrub", path: path) }
            if let offset { start = try parseBytes(offset, option: "--offset", operation: "scrub", path: path) }
            if let length { asked = try parseBytes(length, option: "--length", operation: "scrub", path: path) }
        } catch { throw usageError(error) }
        let device: DaxDevice
        do {
            device = try DaxDevice.open(path, options: .init(requiredGranularity: .page, readOnly: !clear && hwpoison == nil))
        } catch { throw fail(error) }
        defer { device.close() }
        let report: DaxScrubReport
        let terminal = isatty(STDERR_FILENO) == 1
        var poisoned: DaxMapping?
        defer { poisoned?.close() }
        do {
            if let poisonAt { poisoned = try poison(device, at: poisonAt) }
            let count = asked ?? (device.size > start ? device.size - start : 0)
            let (end, overflow) = start.addingReportingOverflow(count)
            guard !overflow else {
                throw DaxError(.outOfRange, operation: "scrub", path: path, offset: start, length: count,
                               message: "the range overflows 64 bits")
            }
            let interval: Duration = terminal ? .milliseconds(200) : .milliseconds(Int64(progressEvery * 1000))
            report = try device.scrub(range: start..<max(start, end), clear: clear, progressInterval: interval) { p in
                let line = "scrub \(device.path): \(String(format1: p.fraction * 100)) %  \(String(format2: p.bytesPerSecond / 1e9)) GB/s  "
                    + "ETA \(p.estimatedRemaining.map { "\($0.components.seconds) s" } ?? "?")  failures \(p.failuresFound)"
                if terminal {
                    writeStandardError("\r\u{1B}[K" + line)
                } else {
                    printError(line)
                }
            }
            if terminal { printError("") }
        } catch let exit as ExitCode { throw exit } catch { throw fail(asDaxError(error)) }

        let seconds = Double(report.duration.components.seconds) + Double(report.duration.components.attoseconds) / 1e18
        let remaining = remainingAfterClear(report)
        if json {
            let ranges = { (rs: [Range<UInt64>]) in JSON.array(rs.map { .object([("offset", .uint($0.lowerBound)), ("length", .uint(UInt64($0.count)))]) }) }
            printLine(JSON.object([
                ("device", .string(device.path)),
                ("offset", .uint(report.range.lowerBound)),
                ("length", .uint(UInt64(report.range.count))),
                ("bytesScanned", .uint(report.bytesScanned)),
                ("failedRanges", .array(report.failedRanges.map {
                    .object([("offset", .uint($0.range.lowerBound)), ("length", .uint(UInt64($0.range.count))),
                             ("kind", .string($0.kind.rawValue))])
                })),
                ("knownBadblocks", ranges(report.knownBadblocks)),
                ("foundAndKnown", ranges(report.foundAndKnown)),
                ("foundOnly", ranges(report.foundOnly)),
                ("knownOnly", ranges(report.knownOnly)),
                ("cleared", ranges(report.cleared)),
                ("clearError", report.clearError.map { .string($0.description) } ?? .null),
                ("seconds", .double(seconds)),
                ("gbps", .double(seconds > 0 ? Double(report.bytesScanned) / seconds / 1e9 : 0)),
            ]).rendered(pretty: false))
        } else {
            printLine("scrubbed \(report.bytesScanned) bytes of \(device.path) in \(String(format2: seconds)) s")
            if report.failedRanges.isEmpty { printLine("no failed ranges") }
            for f in report.failedRanges {
                let known = report.foundAndKnown.contains { $0.overlaps(f.range) } ? "known" : "new"
                printLine("  \(f.kind) [\(f.range.lowerBound), \(f.range.upperBound)) \(f.range.count) bytes (\(known))")
            }
            for r in report.knownOnly { printLine("  known bad but read fine: [\(r.lowerBound), \(r.upperBound))") }
            for r in report.cleared { printLine("  cleared [\(r.lowerBound), \(r.upperBound))") }
            if let e = report.clearError { printLine("  not cleared: \(e)") }
        }
        if report.failedRanges.isEmpty { return }
        throw ExitCode(clear && (report.clearError != nil || !remaining.isEmpty) ? 3 : 2)
    }

    /// Maps the page at `offset` (4 KiB pages on DAX files), gives it real
    /// blocks, and poisons it with MADV_HWPOISON; the mapping keeps what the
    /// kernel reported. Exit 4 when the kernel refuses.
    private func poison(_ device: DaxDevice, at offset: UInt64) throws -> DaxMapping {
        let align = device.alignment
        let start = offset / align * align
        guard start < device.size else {
            throw DaxError(.outOfRange, operation: "scrub", path: path, offset: offset,
                           message: "--hwpoison offset is past the end of the device (\(device.size) bytes)")
        }
        // Nothing is written, not even to make the page real, unless the kernel can poison it.
        if let refusal = HWPoisonSupport.refusal() {
            printError("daxmap: scrub: \(path): MADV_HWPOISON refused: \(refusal.reason)")
            throw ExitCode(4)
        }
        let mapping = try device.map(offset: start, length: align, options: DaxMapping.Options(largePages: false))
        let page = Syscalls.pageSize
        let within = Int(offset - start) & ~(page - 1)
        try HWPoisonSupport.makeReal(mapping, at: within) // a hole would be the shared zero page
        switch mapping.injectMemoryFailure(at: within) {
        case .unsupported(let errno):
            printError("daxmap: scrub: \(path): MADV_HWPOISON refused (errno: \(errno.rawValue))")
            throw ExitCode(4)
        case .caught, .notRaised:
            return mapping
        }
    }

    /// Found ranges not covered by what was cleared.
    private func remainingAfterClear(_ report: DaxScrubReport) -> [Range<UInt64>] {
        report.failedRanges.map(\.range).filter { f in
            !report.cleared.contains { $0.lowerBound <= f.lowerBound && $0.upperBound >= f.upperBound }
        }
    }
}

extension String {
    init(format1 value: Double) { self = Self.fixed(value, 1) }
    init(format2 value: Double) { self = Self.fixed(value, 2) }

    private static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "?" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let n = Int64((value * scale).rounded())
        let whole = n / Int64(scale), frac = abs(n % Int64(scale))
        let f = String(frac)
        return (n < 0 && whole == 0 ? "-" : "") + "\(whole)." + String(repeating: "0", count: digits - f.count) + f
    }
}

/// Writes to standard error without a newline (the live progress line).
private func writeStandardError(_ text: String) {
    // Best effort: progress that cannot be shown must not stop the scrub.
    _ = Array(text.utf8).withUnsafeBytes { Syscalls.writeAll(STDERR_FILENO, $0) }
}
