import CDaxMap
import CPmem2
import DaxMap
import Glibc

/// One way of copying a block into a mapped region and making it persistent.
/// Each writer owns a disjoint region of the target, so no writer finds lines
/// another one left in the cache.
protocol BlockWriter: AnyObject {
    var name: String { get }
    /// Bytes the writer cycles over.
    var length: Int { get }
    /// Copies `count` bytes from `source` to region offset `offset` and persists them.
    func write(_ source: UnsafeRawPointer, _ count: Int, at offset: Int)
}

/// daxmap's public path: `DaxMapping.write(_:at:persist: true)`.
final class DaxmapWriter: BlockWriter {
    let name = "daxmap"
    let mapping: DaxMapping
    var length: Int { mapping.count }

    init(_ mapping: DaxMapping) { self.mapping = mapping }

    @inline(__always)
    func write(_ source: UnsafeRawPointer, _ count: Int, at offset: Int) {
        do {
            try mapping.write(UnsafeRawBufferPointer(start: source, count: count), at: offset, persist: true)
        } catch {
            fail("daxmap write at \(offset): \(error)")
        }
    }
}

/// libpmem2: `pmem2_memcpy_fn` from `pmem2_get_memcpy_fn`, flags 0 (copy, flush, drain).
final class Pmem2Writer: BlockWriter {
    let name = "libpmem2"
    let map: Pmem2Map
    var length: Int { map.length }

    init(_ map: Pmem2Map) { self.map = map }

    @inline(__always)
    func write(_ source: UnsafeRawPointer, _ count: Int, at offset: Int) {
        _ = map.memcpy(map.base + offset, source, count, 0)
    }
}

/// Plain `memcpy` into a plain `mmap`, persisted as the granularity needs:
/// `msync(MS_SYNC)` on the covering pages, flush + `sfence` per cache line, or
/// `sfence` alone for byte granularity.
final class MemcpyWriter: BlockWriter {
    let name = "memcpy"
    let map: RawMap
    let granularity: StoreGranularity
    let flushKind = cdaxmap_flush_detect()
    let pageMask = Int(sysconf(Int32(_SC_PAGESIZE))) - 1
    var length: Int { map.length }

    init(_ map: RawMap, granularity: StoreGranularity) {
        self.map = map
        self.granularity = granularity
    }

    @inline(__always)
    func write(_ source: UnsafeRawPointer, _ count: Int, at offset: Int) {
        let dst = map.base + offset
        memcpy(dst, source, count)
        switch granularity {
        case .page:
            let start = offset & ~pageMask
            if msync(map.base + start, offset + count - start, MS_SYNC) != 0 { fail("msync: errno \(errno)") }
        case .cacheLine:
            cdaxmap_flush_range(flushKind, dst, count)
            cdaxmap_sfence()
        case .byte:
            cdaxmap_sfence()
        }
    }
}

/// daxmap's cache-line persistence path, reached directly through CDaxMap
/// because the library (rightly) refuses cache-line granularity on a file that
/// is not on a DAX mount: the guarded copy `DaxMapping.write` runs, with
/// non-temporal stores from `threshold` bytes up (then only `sfence`), else
/// ordinary stores and a guarded flush + `sfence`. What it skips is the Swift
/// `check()` of `write` (state, bounds, lost ranges), measured in "guarded vs unguarded".
final class DaxmapCacheLineWriter: BlockWriter {
    let name: String
    let base: UnsafeMutableRawPointer
    let length: Int
    let threshold: Int
    let flushKind = cdaxmap_flush_detect()
    let mapping: DaxMapping // keeps the registered range alive

    /// `threshold`: non-temporal from this many bytes; `Int.max` never, 0 always.
    init(_ mapping: DaxMapping, threshold: Int, name: String = "daxmap") {
        self.mapping = mapping
        self.base = mapping.withUnsafeMutableBytes { $0.baseAddress! }
        self.length = mapping.count
        self.threshold = threshold
        self.name = name
    }

    @inline(__always)
    func write(_ source: UnsafeRawPointer, _ count: Int, at offset: Int) {
        var fault = cdaxmap_fault()
        let dst = base + offset
        let nt = count >= threshold
        if cdaxmap_copy_guarded(dst, source, count, nt ? 1 : 0, &fault) != 0 { fail("guarded copy faulted") }
        if nt {
            cdaxmap_sfence()
        } else if cdaxmap_flush_guarded(flushKind, dst, count, &fault) != 0 {
            fail("guarded flush faulted")
        }
    }
}

// MARK: - Mappings outside daxmap

/// A plain shared `mmap` of a file or device range (`MAP_SYNC` when asked).
final class RawMap {
    let base: UnsafeMutableRawPointer
    let length: Int
    let fd: CInt

    init(path: String, offset: Int, length: Int, mapSync: Bool) {
        fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { fail("open \(path): errno \(errno)") }
        let flags = mapSync ? MAP_SHARED_VALIDATE | MAP_SYNC : MAP_SHARED
        guard let p = mmap(nil, length, PROT_READ | PROT_WRITE, flags, fd, off_t(offset)), p != MAP_FAILED else {
            fail("mmap \(path) [\(offset), +\(length)): errno \(errno)")
        }
        base = p
        self.length = length
    }

    deinit {
        munmap(base, length)
        close(fd)
    }
}

/// A libpmem2 mapping: `pmem2_source_from_fd`, a config with offset, length
/// and required store granularity, `pmem2_map_new`.
final class Pmem2Map {
    private var map: OpaquePointer?
    private var source: OpaquePointer?
    let fd: CInt
    let base: UnsafeMutableRawPointer
    let length: Int
    let memcpy: pmem2_memcpy_fn
    let granularity: StoreGranularity

    /// - Parameter forceGranularity: sets `PMEM2_FORCE_GRANULARITY` around
    ///   `pmem2_map_new` (libpmem2's own override, e.g. `CACHE_LINE` to get its
    ///   flush path on memory that is not persistent).
    init(path: String, offset: Int, length: Int, required: StoreGranularity, forceGranularity: String? = nil) throws(BenchError) {
        fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw BenchError("open \(path): errno \(errno)") }
        var cfg: OpaquePointer?
        var rc = pmem2_source_from_fd(&source, fd)
        if rc == 0 { rc = pmem2_config_new(&cfg) }
        if rc == 0 { rc = pmem2_config_set_offset(cfg, offset) }
        if rc == 0 { rc = pmem2_config_set_length(cfg, length) }
        if rc == 0 { rc = pmem2_config_set_required_store_granularity(cfg, Pmem2Map.granularity(required)) }
        if rc == 0 {
            if let forceGranularity { setenv("PMEM2_FORCE_GRANULARITY", forceGranularity, 1) }
            rc = pmem2_map_new(&map, cfg, source)
            if forceGranularity != nil { unsetenv("PMEM2_FORCE_GRANULARITY") }
        }
        pmem2_config_delete(&cfg)
        guard rc == 0, let map, let address = pmem2_map_get_address(map), let fn = pmem2_get_memcpy_fn(map) else {
            let message = String(cString: pmem2_errormsg())
            pmem2_source_delete(&source)
            close(fd)
            throw BenchError("libpmem2 (\(rc)): \(message)")
        }
        base = address
        self.length = pmem2_map_get_size(map)
        memcpy = fn
        switch pmem2_map_get_store_granularity(map) {
        case PMEM2_GRANULARITY_BYTE: granularity = .byte
        case PMEM2_GRANULARITY_CACHE_LINE: granularity = .cacheLine
        default: granularity = .page
        }
    }

    deinit {
        pmem2_map_delete(&map)
        pmem2_source_delete(&source)
        close(fd)
    }

    static func granularity(_ g: StoreGranularity) -> pmem2_granularity {
        switch g {
        case .byte: PMEM2_GRANULARITY_BYTE
        case .cacheLine: PMEM2_GRANULARITY_CACHE_LINE
        case .page: PMEM2_GRANULARITY_PAGE
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func flushName(_ kind: CInt) -> String {
    switch kind {
    case CInt(CDAXMAP_FLUSH_CLWB.rawValue): "clwb"
    case CInt(CDAXMAP_FLUSH_CLFLUSHOPT.rawValue): "clflushopt"
    case CInt(CDAXMAP_FLUSH_CLFLUSH.rawValue): "clflush"
    default: "none"
    }
}
