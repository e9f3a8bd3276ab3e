import CPmemlog
import DaxLog
import DaxMap
import Glibc

// daxlog-bench (`make bench-log`): append+persist records/s, DaxLog against
// libpmemlog (PMDK 1.12), one record size and batch size per row, both on a
// target of the same kind. Prints numbers, never asserts. No Foundation.
//
//   --json          only [{"record": N, "batch": B, "daxlog_rps": x, "libpmemlog_rps": y}, ...] on stdout
//   --target PATH   a directory (two files in it, e.g. on a DAX mount), a
//                   /dev/daxX.Y (both logs in turn), or a file (it and PATH.pmemlog);
//                   default: two files on /dev/shm
//   --cell-ms MS    time per implementation per row (default 600, in 3 interleaved rounds)
//   --record BYTES  only this record size; --batch N only this batch size (profiling one row)

nonisolated(unsafe) var recordSizes = [64, 256, 1024, 4096]
nonisolated(unsafe) var batches = [1, 16]
let logSize = 64 << 20

/// The value of `flag`: a whole number in 1...limit, else exit 64 saying so.
func positive(_ flag: String, _ value: String?, limit: Int) -> Int {
    guard let value, let n = Int(value), n > 0, n <= limit else {
        writeAll(STDERR_FILENO, "daxlog-bench: \(flag) needs a whole number from 1 to \(limit), not '\(value ?? "")'\n")
        exit(64)
    }
    return n
}

nonisolated(unsafe) var json = false
nonisolated(unsafe) var target: String?
nonisolated(unsafe) var cellSeconds = 0.6
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let arg = arguments.next() {
    switch arg {
    case "--json": json = true
    case "--target": target = arguments.next()
    case "--cell-ms": cellSeconds = Double(positive(arg, arguments.next(), limit: 3_600_000)) / 1000
    case "--record": recordSizes = [positive(arg, arguments.next(), limit: 1 << 20)]
    case "--batch": batches = [positive(arg, arguments.next(), limit: 65_536)]
    case "-h", "--help":
        print("usage: daxlog-bench [--json] [--target DIR|/dev/daxX.Y|FILE] [--cell-ms MS] [--record BYTES] [--batch N]")
        exit(0)
    default:
        writeAll(STDERR_FILENO, "daxlog-bench: unknown argument '\(arg)'\n")
        exit(64)
    }
}

func writeAll(_ fd: CInt, _ text: String) {
    var text = text
    text.withUTF8 { b in
        var done = 0
        while done < b.count {
            let n = write(fd, b.baseAddress! + done, b.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            done += n
        }
    }
}
func report(_ line: String = "") { writeAll(json ? STDERR_FILENO : STDOUT_FILENO, line + "\n") }
func fail(_ line: String) -> Never {
    writeAll(STDERR_FILENO, "daxlog-bench: \(line)\n")
    exit(1)
}
func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
func fixed(_ v: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let n = UInt64((v * scale).rounded())
    var frac = String(n % UInt64(scale))
    while frac.count < decimals { frac = "0" + frac }
    return String(n / UInt64(scale)) + (decimals > 0 ? "." + frac : "")
}
func padded(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }

// MARK: - Where the two logs live

nonisolated(unsafe) var isCharDevice = false
let (daxPath, pmemPath): (String, String) = {
    guard let target else {
        let base = "/dev/shm/daxlog-bench-\(getpid())"
        return (base + "-daxlog", base + "-pmemlog")
    }
    var st = stat()
    if stat(target, &st) == 0 {
        switch st.st_mode & S_IFMT {
        case S_IFDIR: return (target + "/daxlog-bench-\(getpid())-daxlog", target + "/daxlog-bench-\(getpid())-pmemlog")
        case S_IFCHR: isCharDevice = true; return (target, target)
        default: break
        }
    }
    return (target, target + ".pmemlog")
}()
func removeScratch() {
    guard !isCharDevice else { return }
    if target == nil || daxPath != target { unlink(daxPath) }
    unlink(pmemPath)
}

// MARK: - The two implementations

/// Appends `batch` records of `record` bytes per call for about `seconds`; returns records and nanoseconds.
protocol Appender {
    mutating func run(record: Int, batch: Int, seconds: Double) -> (records: Int, nanoseconds: UInt64)
}

struct DaxLogAppender: Appender {
    let log: DaxLog
    init() {
        do {
            let device = isCharDevice ? try DaxDevice.open(daxPath)
                                      : try DaxDevice.createEmulated(at: daxPath, size: UInt64(logSize))
            let length = isCharDevice ? min(device.size, UInt64(logSize)) : UInt64(logSize)
            log = try DaxLog.open(device: device, length: length, options: .init(creation: .overwrite))
        } catch { fail("DaxLog on \(daxPath): \(error)") }
    }
    mutating func run(record: Int, batch: Int, seconds: Double) -> (records: Int, nanoseconds: UInt64) {
        let payload = [UInt8](repeating: 0x5a, count: record)
        let group = [[UInt8]](repeating: payload, count: batch)
        let start = now(), limit = start + UInt64(seconds * 1e9)
        var records = 0
        while true {
            for _ in 0..<16 {
                do {
                    if batch == 1 { try log.append(payload) } else { try log.append(contentsOf: group) }
                } catch where error.code == .full {
                    // A checkpoint: everything so far is applied (what a WAL does when it wraps).
                    do { try log.discard(upTo: log.nextSequence) } catch { fail("DaxLog discard: \(error)") }
                    continue
                } catch { fail("DaxLog append: \(error)") }
                records += batch
            }
            let t = now()
            if t >= limit { return (records, t - start) }
        }
    }
}

struct PmemlogAppender: Appender {
    let pool: OpaquePointer
    init() {
        if !isCharDevice { unlink(pmemPath) }
        guard let p = pmemlog_create(pmemPath, isCharDevice ? 0 : logSize, 0o600) else {
            fail("pmemlog_create \(pmemPath): \(String(cString: pmemlog_errormsg()))")
        }
        pool = p
    }
    mutating func run(record: Int, batch: Int, seconds: Double) -> (records: Int, nanoseconds: UInt64) {
        let payload = UnsafeMutableRawPointer.allocate(byteCount: record, alignment: 64)
        defer { payload.deallocate() }
        payload.initializeMemory(as: UInt8.self, repeating: 0x5a, count: record)
        var iov = [iovec](repeating: iovec(iov_base: payload, iov_len: record), count: batch)
        let start = now(), limit = start + UInt64(seconds * 1e9)
        var records = 0
        while true {
            for _ in 0..<16 {
                let r = batch == 1 ? pmemlog_append(pool, payload, record)
                                   : pmemlog_appendv(pool, &iov, Int32(batch))
                if r != 0 {
                    guard errno == ENOSPC else { fail("pmemlog_append: \(String(cString: pmemlog_errormsg()))") }
                    pmemlog_rewind(pool)
                    continue
                }
                records += batch
            }
            let t = now()
            if t >= limit { return (records, t - start) }
        }
    }
}

// MARK: - Run

struct Row { var record: Int; var batch: Int; var daxlog: Double; var pmemlog: Double }

var uts = utsname()
uname(&uts)
let cpus = sysconf(Int32(_SC_NPROCESSORS_ONLN))
report("daxlog-bench: \(cpus) CPU(s), target \(target ?? "/dev/shm") , log \(logSize >> 20) MiB each, CRC-32C \(DaxLog.checksumUsesHardware ? "SSE4.2" : "table")")
report("append+persist, records/s (higher is better); ratio = DaxLog / libpmemlog")
report()
var dax = DaxLogAppender()
// A character device is shared in turn: DaxLog's rows first, then libpmemlog's.
var rows: [Row] = []
let rounds = 3
if isCharDevice {
    for r in recordSizes { for b in batches {
        let x = dax.run(record: r, batch: b, seconds: cellSeconds)
        rows.append(Row(record: r, batch: b, daxlog: Double(x.records) * 1e9 / Double(x.nanoseconds), pmemlog: 0))
    } }
    dax.log.close()
    var pmem = PmemlogAppender()
    for i in rows.indices {
        let y = pmem.run(record: rows[i].record, batch: rows[i].batch, seconds: cellSeconds)
        rows[i].pmemlog = Double(y.records) * 1e9 / Double(y.nanoseconds)
    }
    pmemlog_close(pmem.pool)
} else {
    var pmem = PmemlogAppender()
    for r in recordSizes { for b in batches {
        var dn = 0, dt: UInt64 = 0, pn = 0, pt: UInt64 = 0
        for _ in 0..<rounds { // interleaved, so a noisy neighbour hurts both alike
            let x = dax.run(record: r, batch: b, seconds: cellSeconds / Double(rounds))
            let y = pmem.run(record: r, batch: b, seconds: cellSeconds / Double(rounds))
            dn += x.records; dt += x.nanoseconds; pn += y.records; pt += y.nanoseconds
        }
        rows.append(Row(record: r, batch: b, daxlog: Double(dn) * 1e9 / Double(dt), pmemlog: Double(pn) * 1e9 / Double(pt)))
    } }
    dax.log.close()
    pmemlog_close(pmem.pool)
}
removeScratch()

report("| record | batch | DaxLog rec/s | libpmemlog rec/s | ratio |")
report("|-------:|------:|-------------:|-----------------:|------:|")
for row in rows {
    report("| \(padded(String(row.record), 6)) | \(padded(String(row.batch), 5)) | \(padded(fixed(row.daxlog, 0), 12)) | \(padded(fixed(row.pmemlog, 0), 16)) | \(padded(fixed(row.daxlog / row.pmemlog, 2), 5)) |")
}
if json {
    let objects = rows.map {
        "{\"record\": \($0.record), \"batch\": \($0.batch), \"daxlog_rps\": \(fixed($0.daxlog, 1)), \"libpmemlog_rps\": \(fixed($0.pmemlog, 1))}"
    }
    writeAll(STDOUT_FILENO, "[" + objects.joined(separator: ", ") + "]\n")
}
