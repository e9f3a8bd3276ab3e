import CDaxMap
import DaxMap
import Glibc

/// The device every copy cell runs on, cut into three disjoint regions (one per
/// implementation) so that no implementation finds lines another left in the cache.
final class CopyTarget {
    let path: String
    let device: DaxDevice
    /// Bytes per region (a multiple of 2 MiB and of the device alignment).
    let region: Int
    /// Whether we created the file (and remove it at the end).
    let created: Bool

    init(path requested: String?, workingSet: Int) {
        var path = requested ?? "/dev/shm/daxmap-bench-\(getpid())"
        var st = stat()
        let exists = stat(path, &st) == 0
        do {
            if exists {
                device = try DaxDevice.open(path)
                created = false
            } else {
                device = try DaxDevice.createEmulated(at: path, size: UInt64(3 * workingSet))
                created = true
            }
        } catch {
            fail("cannot open the target: \(error)")
        }
        path = device.path
        self.path = path
        let unit = max(Int(device.alignment), 2 << 20)
        let third = (Int(device.size) / 3) / unit * unit
        region = min(workingSet / unit * unit, third)
        guard region >= unit else {
            fail("\(path) is too small: \(device.size) bytes give no three regions of \(unit) bytes")
        }
    }

    func remove() {
        device.close()
        if created { unlink(path) }
    }
}

struct CopyRow {
    var block: Int
    var daxmap: Double
    var pmem2: Double
    var memcpy: Double
}

let copyBlocks = [256, 4 << 10, 64 << 10, 2 << 20]

/// Benchmark 1: copy + persist at the target's own granularity.
func runCopyBenchmark(_ target: CopyTarget, options: BenchOptions, source: AlignedBuffer) -> [CopyRow] {
    let device = target.device
    let region = target.region
    report("== Copy + persist on \(target.path) ==")
    report("  device: \(device.kind), \(device.size) bytes, alignment \(device.alignment), granularity \(device.granularity)")
    report("  persist: \(persistDescription(device.granularity)); flush instruction \(flushName(cdaxmap_flush_detect()))")
    report("  3 regions of \(sizeName(region)); each implementation maps all three and, in each of 6 rounds,")
    report("  writes a different one than the others (rotating), sequential offsets wrapping")
    report("  pre-faulted: yes, every page of every mapping (all 3 implementations) is stored to before measuring")
    report("    (daxmap also maps with MAP_POPULATE); first-touch faults are never in the numbers")
    report("  \(fixed(options.cellSeconds, 2)) s per cell in 6 interleaved rounds, median; GB/s = 10^9 B/s; copies verified first")

    // Each implementation maps all three regions (the same file pages); rounds rotate them.
    var mappings: [DaxMapping] = [], pmem2s: [Pmem2Map] = [], raws: [RawMap] = []
    for k in 0..<3 {
        do {
            mappings.append(try device.map(offset: UInt64(k * region), length: UInt64(region), options: .init(prefault: true)))
            let p = try Pmem2Map(path: target.path, offset: k * region, length: region, required: device.granularity)
            if p.granularity != device.granularity {
                warn("libpmem2 chose \(p.granularity) granularity where daxmap has \(device.granularity)")
            }
            pmem2s.append(p)
        } catch {
            fail("\(error)")
        }
        raws.append(RawMap(path: target.path, offset: k * region, length: region,
                           mapSync: device.kind == .fsdaxFile && device.granularity < .page))
        mappings[k].withUnsafeMutableBytes { prefault($0.baseAddress!, $0.count) }
        prefault(pmem2s[k].base, pmem2s[k].length)
        prefault(raws[k].base, raws[k].length)
    }
    let (mapping, pmem2, raw) = (mappings[0], pmem2s[0], raws[0])

    // Every implementation must copy right before it is timed (daxmap's streaming path included).
    for block in copyBlocks {
        let offset = region - block - 64 // unaligned tail case too
        DaxmapWriter(mapping).write(source.pointer, block, at: offset)
        Pmem2Writer(pmem2).write(source.pointer, block, at: offset)
        MemcpyWriter(raw, granularity: device.granularity).write(source.pointer, block, at: offset)
        let ok = mapping.withUnsafeMutableBytes { memcmp($0.baseAddress! + offset, source.pointer, block) == 0 }
            && memcmp(pmem2.base + offset, source.pointer, block) == 0 && memcmp(raw.base + offset, source.pointer, block) == 0
        if !ok { fail("a \(sizeName(block)) copy did not land intact") }
    }
    let variants: [[any BlockWriter]] = [mappings.map { DaxmapWriter($0) }, pmem2s.map { Pmem2Writer($0) },
                                         raws.map { MemcpyWriter($0, granularity: device.granularity) }]
    var cursors = [0, 0, 0]
    var rows: [CopyRow] = []
    for block in copyBlocks {
        let r = measureRotating(variants, cursors: &cursors, source: source.pointer, block: block,
                                seconds: options.cellSeconds, rounds: 6)
        rows.append(CopyRow(block: block, daxmap: r[0], pmem2: r[1], memcpy: r[2]))
    }
    printTable(["block", "daxmap GB/s", "libpmem2 GB/s", "memcpy GB/s", "daxmap/libpmem2", "daxmap/memcpy"],
               rows.map { [sizeName($0.block), fixed($0.daxmap, 3), fixed($0.pmem2, 3), fixed($0.memcpy, 3),
                           fixed($0.daxmap / $0.pmem2, 3), fixed($0.daxmap / $0.memcpy, 3)] })
    let belowPmem2 = rows.filter { $0.daxmap < $0.pmem2 }.map { sizeName($0.block) }
    let belowMemcpy = rows.filter { $0.block >= 64 << 10 && $0.daxmap < 0.9 * $0.memcpy }.map { sizeName($0.block) }
    report("  target daxmap/libpmem2 >= 1.0 at every block: " + (belowPmem2.isEmpty ? "met" : "missed at " + belowPmem2.joined(separator: ", ")))
    report("  target daxmap >= 90 % of memcpy at >= 64 KiB: " + (belowMemcpy.isEmpty ? "met" : "missed at " + belowMemcpy.joined(separator: ", ")))
    report("  (ratios of medians; cells move by a few % from run to run)")
    report()
    withExtendedLifetime((mappings, pmem2s, raws)) {}
    return rows
}

func persistDescription(_ g: StoreGranularity) -> String {
    switch g {
    case .page: "page granularity: msync(MS_SYNC) of the covering pages after each copy"
    case .cacheLine: "cache-line granularity: flush each line + sfence (non-temporal copies: sfence)"
    case .byte: "byte granularity (CPU caches persistent): sfence after each copy"
    }
}

/// Benchmark 1b: cache-line persistence semantics measured on the same target,
/// whatever its real granularity (on /dev/shm this is an emulation: DRAM is not
/// persistent, and daxmap refuses cache-line granularity there).
@discardableResult
func runCacheLineBenchmark(_ target: CopyTarget, options: BenchOptions, source: AlignedBuffer) -> [CopyRow] {
    let region = target.region
    let flush = flushName(cdaxmap_flush_detect())
    let emulated = target.device.granularity == .page
    report("== Cache-line persistence path\(emulated ? " (EMULATED on a page-granularity target)" : "") ==")
    if emulated {
        report("  \(target.path) needs msync; these rows measure the cache-line code paths on the same")
        report("  DRAM pages anyway. Not persistent; useful to compare the copy/flush code, not media.")
    }
    report("  daxmap   = CDaxMap guarded copy (non-temporal from 256 B, as DaxMapping.write) + sfence,")
    report("             or guarded copy + guarded \(flush) + sfence below the threshold; no Swift checks")
    report("  libpmem2 = pmem2_memcpy_fn on a map made with PMEM2_FORCE_GRANULARITY=CACHE_LINE")
    report("             (libpmem2 refuses cache-line granularity on this file otherwise)")
    report("  memcpy   = memcpy + \(flush) per line + sfence")

    // Each implementation maps all three regions and, round by round, writes a different
    // one than the others (measureRotating, as the page rows): with one fixed region each,
    // the physical memory behind a region (the host's pages under KVM) moved the 2 MiB
    // row by up to 17 % in one implementation's favour, run after run (issue 25).
    report("  3 regions of \(sizeName(region)); each implementation maps all three and writes a different one each round")
    var mappings: [DaxMapping] = [], pmem2s: [Pmem2Map] = [], raws: [RawMap] = []
    for k in 0..<3 {
        do {
            mappings.append(try target.device.map(offset: UInt64(k * region), length: UInt64(region), options: .init(prefault: true)))
        } catch {
            fail("daxmap map: \(error)")
        }
        do {
            let m = try Pmem2Map(path: target.path, offset: k * region, length: region, required: .cacheLine,
                                 forceGranularity: emulated ? "CACHE_LINE" : nil)
            if m.granularity == .cacheLine { pmem2s.append(m) } else if k == 0 { report("  libpmem2: got \(m.granularity) granularity; column skipped") }
        } catch {
            if k == 0 { report("  libpmem2: \(error); column skipped") }
        }
        raws.append(RawMap(path: target.path, offset: k * region, length: region,
                           mapSync: target.device.kind == .fsdaxFile && target.device.granularity < .page))
        mappings[k].withUnsafeMutableBytes { prefault($0.baseAddress!, $0.count) }
        prefault(raws[k].base, raws[k].length)
    }
    for m in pmem2s { prefault(m.base, m.length) }
    let pmem2: Pmem2Map? = pmem2s.count == 3 ? pmem2s[0] : nil
    let mapping = mappings[0]

    var variants: [[any BlockWriter]] = [
        mappings.map { DaxmapCacheLineWriter($0, threshold: $0.options.nonTemporalThreshold) },
        raws.map { MemcpyWriter($0, granularity: .cacheLine) },
    ]
    if pmem2 != nil { variants.append(pmem2s.map { Pmem2Writer($0) }) }
    var cursors = [Int](repeating: 0, count: variants.count)
    var rows: [[String]] = []
    var copyRows: [CopyRow] = []
    for block in copyBlocks {
        let r = measureRotating(variants, cursors: &cursors, source: source.pointer, block: block,
                                seconds: options.cellSeconds * 0.8, rounds: 6)
        let p = pmem2 != nil ? r[2] : .nan
        copyRows.append(CopyRow(block: block, daxmap: r[0], pmem2: p, memcpy: r[1]))
        rows.append([sizeName(block), fixed(r[0], 3), pmem2 != nil ? fixed(p, 3) : "-", fixed(r[1], 3),
                     pmem2 != nil ? fixed(r[0] / p, 3) : "-", fixed(r[0] / r[1], 3)])
    }
    printTable(["block", "daxmap GB/s", "libpmem2 GB/s", "memcpy+\(flush) GB/s", "daxmap/libpmem2", "daxmap/memcpy"], rows)
    report()

    // The non-temporal threshold: streaming stores + sfence against ordinary
    // stores + flush + sfence, both through daxmap's guarded copy.
    report("== Non-temporal threshold (cache-line path, daxmap guarded copy) ==")
    let nt = DaxmapCacheLineWriter(mapping, threshold: 0, name: "nt")
    let temporal = DaxmapCacheLineWriter(mapping, threshold: Int.max, name: "temporal")
    var ntCursors = [0, region / 2]
    var ntRows: [[String]] = []
    var firstNT: Int?
    for block in [64, 128, 256, 1 << 10, 4 << 10] {
        let r = measureInterleaved([nt, temporal], cursors: &ntCursors, source: source.pointer, block: block,
                                   seconds: options.cellSeconds * 0.6, rounds: options.rounds)
        let winner = r[0] >= r[1] ? "non-temporal" : "temporal+\(flush)"
        if r[0] >= r[1] && firstNT == nil { firstNT = block }
        if r[0] < r[1] { firstNT = nil }
        ntRows.append([sizeName(block), fixed(r[0], 3), fixed(r[1], 3), fixed(r[0] / r[1], 2), winner])
    }
    printTable(["block", "nt+sfence GB/s", "temporal+\(flush)+sfence GB/s", "nt/temporal", "faster"], ntRows)
    if let firstNT {
        report("  non-temporal wins from \(sizeName(firstNT)) up here; daxmap's threshold is \(mapping.options.nonTemporalThreshold) B"
            + (firstNT <= mapping.options.nonTemporalThreshold ? " (consistent)" : " (consider raising it)"))
    } else {
        report("  non-temporal does not win at every size up to 4 KiB here; daxmap's threshold is \(mapping.options.nonTemporalThreshold) B")
    }
    report("  (DRAM behind a KVM guest: real PMem/CXL media can shift the crossover)")
    report()
    withExtendedLifetime((mappings, pmem2s, raws)) {}
    return copyRows
}

/// The non-temporal threshold at page granularity: daxmap's page path (guarded
/// copy, `sfence`, `msync` of the covering pages) with streaming stores forced
/// on and off. Through CDaxMap, since `DaxMapping.write` applies its own
/// 8 KiB minimum at page granularity.
func runPageThresholdBenchmark(_ target: CopyTarget, options: BenchOptions, source: AlignedBuffer) {
    guard target.device.granularity == .page else { return }
    report("== Non-temporal threshold at page granularity (daxmap guarded copy + sfence + msync) ==")
    let region = target.region
    let nt: DaxMapping, temporal: DaxMapping
    do {
        nt = try target.device.map(offset: 0, length: UInt64(region))
        temporal = try target.device.map(offset: UInt64(region), length: UInt64(region))
    } catch {
        fail("map: \(error)")
    }
    nt.withUnsafeMutableBytes { prefault($0.baseAddress!, $0.count) }
    temporal.withUnsafeMutableBytes { prefault($0.baseAddress!, $0.count) }
    let writers: [any BlockWriter] = [DaxmapPageWriter(nt, streaming: true), DaxmapPageWriter(temporal, streaming: false)]
    var cursors = [0, 0]
    var rows: [[String]] = []
    var crossover: Int?
    for block in [256, 1 << 10, 4 << 10, 8 << 10, 16 << 10, 64 << 10] {
        let r = measureInterleaved(writers, cursors: &cursors, source: source.pointer,
                                   block: block, seconds: options.cellSeconds * 0.6, rounds: options.rounds)
        if r[0] >= r[1] { crossover = crossover ?? block } else { crossover = nil }
        rows.append([sizeName(block), fixed(r[0], 3), fixed(r[1], 3), fixed(r[0] / r[1], 2),
                     r[0] >= r[1] ? "non-temporal" : "temporal"])
    }
    printTable(["block", "nt+msync GB/s", "temporal+msync GB/s", "nt/temporal", "faster"], rows)
    report("  non-temporal wins from \(crossover.map(sizeName) ?? "none of these") up; DaxMapping.write streams from 8 KiB at page granularity")
    report()
}

/// daxmap's page-granularity path with streaming stores forced on or off.
final class DaxmapPageWriter: BlockWriter {
    let name: String
    let mapping: DaxMapping
    let base: UnsafeMutableRawPointer
    let length: Int
    let streaming: Bool
    let pageMask = Int(sysconf(Int32(_SC_PAGESIZE))) - 1

    init(_ mapping: DaxMapping, streaming: Bool) {
        self.mapping = mapping
        self.base = mapping.withUnsafeMutableBytes { $0.baseAddress! }
        self.length = mapping.count
        self.streaming = streaming
        self.name = streaming ? "nt" : "temporal"
    }

    @inline(__always)
    func write(_ source: UnsafeRawPointer, _ count: Int, at offset: Int) {
        var fault = cdaxmap_fault()
        if cdaxmap_copy_guarded(base + offset, source, count, streaming ? 1 : 0, &fault) != 0 { fail("guarded copy faulted") }
        cdaxmap_sfence()
        let start = offset & ~pageMask
        if msync(base + start, offset + count - start, MS_SYNC) != 0 { fail("msync: errno \(errno)") }
    }
}
