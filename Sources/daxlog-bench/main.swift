import CPmemlog
import DaxLog
import DaxMap
import Glibc

// daxlog-bench (`make bench-log`): append+persist records/s and per-call latency,
// DaxLog against libpmemlog (PMDK 1.12), on targets of the same kind. Prints
// numbers, never asserts. No Foundation.
//
// Rows: 64 B, 256 B, 1 KiB, 4 KiB x batch 1 and 16, one thread; then 2 and 4
// threads appending 256 B one at a time. Each at two granularities on /dev/shm
// (or any non-DAX target):
//   page       both persist by msync (DaxLog's emulated device; libpmem sees no pmem)
//   cacheLine  both flush and fence, no msync: libpmemlog under PMEM_IS_PMEM_FORCE=1,
//              DaxLog on an emulated device opened with unsafeCacheLinePersistence.
//              Not durable: a benchmark of the code path, on DRAM.
// On a DAX target (/dev/daxX.Y, a DAX mount) one granularity: the device's own.
// libpmem reads PMEM_IS_PMEM_FORCE once, at its first pmem_is_pmem, so every
// granularity runs in a child process of its own (this program, --granularity G
// --wire), which sets the variable before its first libpmemlog call.
//
//   --json            only the JSON array of rows on stdout
//   --target PATH     a directory (two files in it), a /dev/daxX.Y (both logs in turn),
//                     or a file (it and PATH.pmemlog); default: two files on /dev/shm
//   --cell-ms MS      time per implementation per row (default 600, in 3 interleaved rounds)
//   --record BYTES    only this record size; --batch N only this batch size;
//   --threads N       only this many appenders (1: the single-thread rows); --granularity G only G

nonisolated(unsafe) var recordSizes = [64, 256, 1024, 4096]
nonisolated(unsafe) var batches = [1, 16]
nonisolated(unsafe) var threadCounts = [1, 2, 4]
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
nonisolated(unsafe) var wire = false
nonisolated(unsafe) var target: String?
nonisolated(unsafe) var granularity: String?
nonisolated(unsafe) var cellMilliseconds = 600
let usage = "usage: daxlog-bench [--json] [--target DIR|/dev/daxX.Y|FILE] [--cell-ms MS] [--record BYTES] [--batch N] [--threads N] [--granularity page|cacheLine|native]"
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let arg = arguments.next() {
    switch arg {
    case "--json": json = true
    case "--wire": wire = true
    case "--target":
        guard let t = arguments.next(), !t.isEmpty else { fail("--target needs a path") }
        target = t
    case "--cell-ms": cellMilliseconds = positive(arg, arguments.next(), limit: 3_600_000)
    case "--record": recordSizes = [positive(arg, arguments.next(), limit: 1 << 20)]
    case "--batch": batches = [positive(arg, arguments.next(), limit: 65_536)]
    case "--threads": threadCounts = [positive(arg, arguments.next(), limit: 256)]
    case "--granularity":
        let g = arguments.next()
        guard let g, ["page", "cacheLine", "native"].contains(g) else {
            fail("--granularity needs page, cacheLine or native, not '\(g ?? "")'")
        }
        granularity = g
    case "-h", "--help":
        print(usage)
        exit(0)
    default:
        writeAll(STDERR_FILENO, "daxlog-bench: unknown argument '\(arg)'\n\(usage)\n")
        exit(64)
    }
}

// MARK: - Where the two logs live

nonisolated(unsafe) var isCharDevice = false
let (daxPath, pmemPath): (String, String) = {
    guard let target else {
        let base = "/dev/shm/daxlog-bench-\(getppid())-\(getpid())"
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

/// The cells of one granularity: (record, batch, threads).
func cells() -> [(record: Int, batch: Int, threads: Int)] {
    var list: [(Int, Int, Int)] = []
    if threadCounts.contains(1) { for r in recordSizes { for b in batches { list.append((r, b, 1)) } } }
    let record = recordSizes.contains(256) ? 256 : recordSizes[0]
    let batch = batches.contains(1) ? 1 : batches[0]
    for t in threadCounts where t > 1 { list.append((record, batch, t)) }
    return list
}

if let granularity {
    let rows = runGranularity(granularity)
    removeScratch()
    if wire {
        for row in rows { writeAll(STDOUT_FILENO, row.wire + "\n") }
    } else {
        printTable(rows)
        if json { printJSON(rows) }
    }
    exit(0)
}

// MARK: - The parent: one child per granularity

var loads = [Double](repeating: 0, count: 3)
getloadavg(&loads, 3)
let cpus = sysconf(Int32(_SC_NPROCESSORS_ONLN))
report("daxlog-bench: \(cpus) CPU(s), load average \(fixed(loads[0], 2)) \(fixed(loads[1], 2)) \(fixed(loads[2], 2)), "
    + "target \(target ?? "/dev/shm"), log \(logSize >> 20) MiB each, CRC-32C \(DaxLog.checksumUsesHardware ? "SSE4.2" : "table")")
report("append+persist, records/s (higher is better); ratio = DaxLog / libpmemlog; latency per append call")
report("\(cellMilliseconds) ms per implementation per row, in 3 interleaved rounds")
let granularities = onDaxTarget() ? ["native"] : ["page", "cacheLine"]
var rows: [Row] = []
for g in granularities { rows += runChild(granularity: g) }
removeScratch()
report()
printTable(rows)
if json { printJSON(rows) }
