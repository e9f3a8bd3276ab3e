import CDaxMap
import DaxMap
import Glibc
import Synchronization

/// daxmap's parallel path: `DaxMapping.write(_:at:persist:parallelism:)`.
final class DaxmapParallelWriter: BlockWriter {
    let name = "daxmap parallel"
    let mapping: DaxMapping
    let threads: Int
    var length: Int { mapping.count }

    init(_ mapping: DaxMapping, threads: Int) {
        self.mapping = mapping
        self.threads = threads
    }

    @inline(__always)
    func write(_ source: UnsafeRawPointer, _ count: Int, at offset: Int) {
        do {
            try mapping.write(UnsafeRawBufferPointer(start: source, count: count), at: offset, persist: true, parallelism: threads)
        } catch {
            fail("daxmap parallel write at \(offset): \(error)")
        }
    }
}

struct ParallelRow {
    var block: Int
    var daxmap: Double
    var pmem2: Double
    var memcpy: Double
    /// Non-temporal store bandwidth of `threads` threads in the same run.
    var limit: Double
}

let parallelBlocks = [2 << 20, 8 << 20, 32 << 20]

/// The machine's limit: `threads` threads streaming non-temporal stores (the
/// AVX-512/SSE2 fill daxmap's copies are made of, no Swift around it) into
/// their own slices of a plain mapping, for about `seconds` each, all at once:
/// each thread counts from a common start (a barrier), and the rates add.
func nonTemporalStoreBandwidth(_ map: RawMap, threads: Int, seconds: Double) -> Double {
    let slice = map.length / threads & ~4095
    let chunk = min(4 << 20, slice)
    let base = UInt(bitPattern: map.base), budget = UInt64(seconds * 1e9)
    let rates = onThreads(threads) { t in
        let p = UnsafeMutableRawPointer(bitPattern: base + UInt(t * slice))!
        var at = 0, written = 0
        var fault = cdaxmap_fault()
        let start = nowNanoseconds()
        var elapsed: UInt64 = 0
        repeat {
            _ = cdaxmap_fill_guarded(p + at, 0x5A, chunk, 1, &fault)
            cdaxmap_sfence()
            written += chunk
            at = at + chunk + chunk > slice ? 0 : at + chunk
            elapsed = nowNanoseconds() - start
        } while elapsed < budget
        return Double(written) / Double(elapsed)
    }
    return rates.reduce(0, +)
}

/// Runs `body(t)` for t in 0..<threads, each on a thread of its own started
/// together (a dispatch pool may run two iterations one after the other on one
/// thread, which would measure one thread twice), and returns the results.
func onThreads(_ threads: Int, _ body: @escaping @Sendable (Int) -> Double) -> [Double] {
    final class Context: @unchecked Sendable {
        let body: @Sendable (Int) -> Double
        let threads: Int
        let arrived = Atomic<Int>(0)
        init(_ threads: Int, _ body: @escaping @Sendable (Int) -> Double) {
            self.threads = threads
            self.body = body
        }
    }
    let context = Context(threads, body)
    let results = UnsafeMutablePointer<Double>.allocate(capacity: threads)
    defer { results.deallocate() }
    var ids: [pthread_t] = []
    for t in 0..<threads {
        let arg = Unmanaged.passRetained(Box((context, t, results))).toOpaque()
        var id = pthread_t()
        guard pthread_create(&id, nil, { raw in
            let box = Unmanaged<Box<(Context, Int, UnsafeMutablePointer<Double>)>>.fromOpaque(raw!).takeRetainedValue()
            let (context, t, results) = box.value
            context.arrived.add(1, ordering: .acquiringAndReleasing)
            while context.arrived.load(ordering: .acquiring) < context.threads {}
            results[t] = context.body(t)
            return nil
        }, arg) == 0 else { fail("pthread_create: errno \(errno)") }
        ids.append(id)
    }
    for id in ids { pthread_join(id, nil) }
    return (0..<threads).map { results[$0] }
}

final class Box<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Benchmark 1c: large copies split across threads, against single-threaded
/// libpmem2 and memcpy on the same target, and the machine's limit.
func runParallelBenchmark(_ target: CopyTarget, options: BenchOptions, source: AlignedBuffer) -> [ParallelRow] {
    let device = target.device, region = target.region
    let threads = max(2, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    report("== Parallel copy + persist (DaxMapping.write(_:at:persist:parallelism: \(threads))) on \(target.path) ==")
    report("  daxmap parallel = \(threads) threads (the caller and daxmap's copy workers), page-aligned parts;")
    report("  libpmem2 and memcpy single-threaded, as above; limit = \(threads) threads of non-temporal stores")
    report("  (daxmap's streaming fill, no Swift) into a plain mapping, measured in the same run")
    var mappings: [DaxMapping] = [], pmem2s: [Pmem2Map] = [], raws: [RawMap] = []
    for k in 0..<3 {
        do {
            mappings.append(try device.map(offset: UInt64(k * region), length: UInt64(region), options: .init(prefault: true)))
            pmem2s.append(try Pmem2Map(path: target.path, offset: k * region, length: region, required: device.granularity))
        } catch {
            fail("\(error)")
        }
        raws.append(RawMap(path: target.path, offset: k * region, length: region,
                           mapSync: device.kind == .fsdaxFile && device.granularity < .page))
        mappings[k].withUnsafeMutableBytes { prefault($0.baseAddress!, $0.count) }
        prefault(pmem2s[k].base, pmem2s[k].length)
        prefault(raws[k].base, raws[k].length)
    }
    let blocks = parallelBlocks.filter { $0 <= min(source.count, region / 2) }
    for block in blocks { // copies verified first
        DaxmapParallelWriter(mappings[0], threads: threads).write(source.pointer, block, at: 4096)
        if mappings[0].withUnsafeBytes({ memcmp($0.baseAddress! + 4096, source.pointer, block) }) != 0 {
            fail("a \(sizeName(block)) parallel copy did not land intact")
        }
    }
    let variants: [[any BlockWriter]] = [mappings.map { DaxmapParallelWriter($0, threads: threads) }, pmem2s.map { Pmem2Writer($0) },
                                         raws.map { MemcpyWriter($0, granularity: device.granularity) }]
    var cursors = [0, 0, 0]
    var rows: [ParallelRow] = []
    for block in blocks {
        let r = measureRotating(variants, cursors: &cursors, source: source.pointer, block: block,
                                seconds: options.cellSeconds, rounds: 6)
        let limit = nonTemporalStoreBandwidth(raws[(rows.count + 1) % 3], threads: threads, seconds: options.cellSeconds / 2)
        rows.append(ParallelRow(block: block, daxmap: r[0], pmem2: r[1], memcpy: r[2], limit: limit))
    }
    let single = nonTemporalStoreBandwidth(raws[0], threads: 1, seconds: options.cellSeconds / 2)
    printTable(["block", "daxmap parallel GB/s", "libpmem2 GB/s", "memcpy GB/s", "limit GB/s", "daxmap/libpmem2", "daxmap/limit"],
               rows.map { [sizeName($0.block), fixed($0.daxmap, 3), fixed($0.pmem2, 3), fixed($0.memcpy, 3), fixed($0.limit, 3),
                           fixed($0.daxmap / $0.pmem2, 3), fixed($0.daxmap / $0.limit, 3)] })
    report("  one thread's non-temporal stores: \(fixed(single, 3)) GB/s")
    let belowLimit = rows.filter { $0.daxmap < 0.85 * $0.limit }.map { sizeName($0.block) }
    let belowPmem2 = rows.filter { $0.daxmap < 1.5 * $0.pmem2 }.map { sizeName($0.block) }
    report("  target >= 85 % of the limit: " + (belowLimit.isEmpty ? "met" : "missed at " + belowLimit.joined(separator: ", ")))
    report("  target >= 1.5x libpmem2: " + (belowPmem2.isEmpty ? "met" : "missed at " + belowPmem2.joined(separator: ", ")))
    report()
    withExtendedLifetime((mappings, pmem2s, raws, source)) {} // the copies read source.pointer
    return rows
}
