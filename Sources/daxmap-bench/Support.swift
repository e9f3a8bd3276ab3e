import Glibc

// Small helpers: a monotonic clock, statistics, fixed-point formatting, the
// report stream (stdout, or stderr under --json) and aligned buffers.
// No Foundation: libFoundation exports uuid_* symbols that libdaxctl binds to.

/// Nanoseconds on CLOCK_MONOTONIC: comparable across threads, cheap (vDSO).
@inline(__always)
func nowNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Where human-readable output goes: stdout, or stderr when stdout carries JSON.
nonisolated(unsafe) var reportToStderr = false

func report(_ line: String = "") {
    writeAll(reportToStderr ? STDERR_FILENO : STDOUT_FILENO, line + "\n")
}

func warn(_ line: String) {
    writeAll(STDERR_FILENO, "daxmap-bench: " + line + "\n")
}

/// write(2) the whole string (unbuffered: stdout and stderr never interleave out of order).
func writeAll(_ fd: CInt, _ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            done += n
        }
    }
}

func fail(_ line: String) -> Never {
    warn(line)
    exit(1)
}

/// `value` with `decimals` digits after the point, no Foundation.
func fixed(_ value: Double, _ decimals: Int = 2) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let negative = value < 0
    let scaled = (abs(value) * scale).rounded()
    guard scaled < 9e18 else { return String(value) }
    let n = UInt64(scaled)
    let whole = n / UInt64(scale)
    var text = String(whole)
    if decimals > 0 {
        var frac = String(n % UInt64(scale))
        while frac.count < decimals { frac = "0" + frac }
        text += "." + frac
    }
    return (negative && n != 0 ? "-" : "") + text
}

func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
    guard s.count < width else { return s }
    let fill = String(repeating: " ", count: width - s.count)
    return left ? s + fill : fill + s
}

/// `bytes` as "256 B", "4 KiB", "2 MiB".
func sizeName(_ bytes: Int) -> String {
    if bytes >= 1 << 30 && bytes % (1 << 30) == 0 { return "\(bytes >> 30) GiB" }
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
    if bytes >= 1 << 10 && bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
    return "\(bytes) B"
}

/// Prints a table with right-aligned columns (the first left-aligned).
func printTable(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in pad(c, widths[i], left: i == 0) }.joined(separator: "  ")
    }
    report("  " + line(header))
    report("  " + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
    for row in rows { report("  " + line(row)) }
}

extension Array where Element == Double {
    /// The `p`-quantile (0...1) by nearest rank of the sorted values.
    func quantile(_ p: Double) -> Double {
        guard !isEmpty else { return .nan }
        let s = sorted()
        let rank = Int((p * Double(s.count)).rounded(.up)) - 1
        return s[Swift.min(Swift.max(rank, 0), s.count - 1)]
    }

    var median: Double { quantile(0.5) }
}

/// A page-aligned heap buffer, filled with a pattern so copies move real data.
final class AlignedBuffer {
    let pointer: UnsafeMutableRawPointer
    let count: Int

    init(count: Int, alignment: Int = 4096) {
        var p: UnsafeMutableRawPointer?
        guard posix_memalign(&p, alignment, count) == 0, let p else { fail("posix_memalign(\(count)) failed") }
        pointer = p
        self.count = count
        let bytes = p.bindMemory(to: UInt8.self, capacity: count)
        for i in 0..<count { bytes[i] = UInt8(truncatingIfNeeded: i &* 131 &+ 7) }
    }

    deinit { free(pointer) }
}

/// Touches every page of [base, base+length) with a store: first-touch faults
/// (about 0.3 GB/s on this host, against ~20 GB/s once mapped) are paid here,
/// never inside a measurement.
func prefault(_ base: UnsafeMutableRawPointer, _ length: Int) {
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    var offset = 0
    while offset < length {
        base.storeBytes(of: 0, toByteOffset: offset, as: UInt8.self)
        offset += page
    }
}
