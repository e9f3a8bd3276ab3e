import CDaxMap
import DaxMap
import Glibc

// daxmap-bench: prints numbers, never asserts (targets are reported as met/missed).
//
//   Benchmark 1 (mapper core): copy + persist throughput, daxmap vs libpmem2 vs
//   memcpy, on one target at its own granularity; then the cache-line path and
//   the non-temporal threshold.
//   Benchmark 2 (holder layer): guard overhead, SIGBUS-to-holder latency,
//   removal with 1000 mappings.
//   Unused test hooks: guarded write/read/persist calls per second on a plain mapping.

let options = BenchOptions.parse(CommandLine.arguments)
reportToStderr = options.json
// A daxmap-bench killed mid-run leaves its /dev/shm files; say where they are.
if options.target == nil { warn("scratch files: /dev/shm/daxmap-bench-\(getpid())*") }

let started = nowNanoseconds()
report("daxmap-bench: release build, \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) CPU(s), flush \(flushName(cdaxmap_flush_detect())), copies with \(["SSE2", "AVX", "AVX-512"][Int(cdaxmap_copy_vectors(-1))]) moves")
report()

var rows: [CopyRow] = [], cacheLineRows: [CopyRow] = [], parallelRows: [ParallelRow] = []
var pagePath = "page"
if options.copy || options.cacheLine {
    let target = CopyTarget(path: options.target, workingSet: options.workingSet)
    let source = AlignedBuffer(count: copyBlocks.max()!)
    pagePath = target.device.granularity == .page ? "page" : "cacheLine"
    if options.copy { rows = runCopyBenchmark(target, options: options, source: source) }
    if options.copy { runPageThresholdBenchmark(target, options: options, source: source) }
    if options.copy { parallelRows = runParallelBenchmark(target, options: options, source: AlignedBuffer(count: parallelBlocks.max()!)) }
    if options.cacheLine { cacheLineRows = runCacheLineBenchmark(target, options: options, source: source) }
    target.remove()
}
if options.scrub { runScrubBenchmark(options: options) }
if options.hooks { runHookBenchmark(options: options) }
if options.holder {
    runGuardBenchmark(options: options)
    await runSigbusLatency(options: options)
    await runRemovalBenchmark(options: options)
}
report("total \(fixed(Double(nowNanoseconds() - started) / 1e9, 1)) s")

if options.json || options.jsonFile != nil {
    // Every row keeps block/daxmap/libpmem2/memcpy; "path" says which: the target's own
    // granularity, the cache-line path (emulated on a page target), or parallel (with the limit).
    func row(_ r: CopyRow, _ path: String) -> String {
        "{\"block\": \(r.block), \"path\": \"\(path)\", \"daxmap_gbps\": \(fixed(r.daxmap, 4)), \"libpmem2_gbps\": \(r.pmem2.isNaN ? "null" : fixed(r.pmem2, 4)), \"memcpy_gbps\": \(fixed(r.memcpy, 4))}"
    }
    let objects = rows.map { row($0, pagePath) } + cacheLineRows.map { row($0, "cacheLine") } + parallelRows.map {
        "{\"block\": \($0.block), \"path\": \"parallel\", \"daxmap_gbps\": \(fixed($0.daxmap, 4)), \"libpmem2_gbps\": \(fixed($0.pmem2, 4)), \"memcpy_gbps\": \(fixed($0.memcpy, 4)), \"limit_gbps\": \(fixed($0.limit, 4))}"
    }
    let array = "[" + objects.joined(separator: ", ") + "]\n"
    if options.json { writeAll(STDOUT_FILENO, array) }
    if let file = options.jsonFile {
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { fail("cannot write \(file): errno \(errno)") }
        writeAll(fd, array)
        close(fd)
    }
}
