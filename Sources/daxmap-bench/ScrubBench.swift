import DaxMap
import Glibc

/// Scrub speed against a raw sequential read of the same device: both map the
/// range afresh (pre-faulted, 4 KiB pages on DAX files), read every byte
/// once through a 256 KiB buffer and unmap it, the scrub through guarded copies with its
/// windows and fault bookkeeping. Target: within 10 %.
func runScrubBenchmark(options: BenchOptions) {
    let size: UInt64 = 256 << 20
    let path = options.target ?? "/dev/shm/daxmap-bench-\(getpid())-scrub"
    defer { if options.target == nil { unlink(path) } }
    guard let device = try? (options.target == nil ? DaxDevice.createEmulated(at: path, size: size)
                                                    : DaxDevice.open(path, options: .init(requiredGranularity: .page))) else {
        warn("scrub: cannot open \(path)")
        return
    }
    defer { device.close() }
    let bytes = min(size, device.size / device.alignment * device.alignment)
    guard bytes > 0 else {
        warn("scrub: \(path) is empty")
        return
    }
    let chunk = 256 << 10
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
    defer { buffer.deallocate() }
    // Both map the range afresh, pre-fault it, read it and unmap it, as a reader
    // of a device would: the unmap is timed too (the scrub's is; ~10 ms of 60 here).
    func raw() -> Double {
        let start = nowNanoseconds()
        guard let mapping = try? device.map(offset: 0, length: bytes, options: .init(prefault: true, readOnly: true, largePages: false)) else { return 0 }
        mapping.withUnsafeMutableBytes { m in
            var at = 0
            while at < m.count {
                let n = min(chunk, m.count - at)
                memcpy(buffer.baseAddress!, m.baseAddress! + at, n)
                at += n
            }
        }
        mapping.close()
        return Double(bytes) / Double(nowNanoseconds() - start)
    }
    func scrub() -> Double {
        let start = nowNanoseconds()
        _ = try? device.scrub(range: 0..<bytes)
        return Double(bytes) / Double(nowNanoseconds() - start)
    }
    _ = raw(); _ = scrub() // warm the page cache / page tables
    var raws: [Double] = [], scrubs: [Double] = []
    for _ in 0..<options.rounds {
        raws.append(raw())
        scrubs.append(scrub())
    }
    let r = raws.sorted()[raws.count / 2], s = scrubs.sorted()[scrubs.count / 2]
    report("scrub of \(bytes >> 20) MiB (\(device.kind)), median of \(options.rounds): raw sequential read \(fixed(r, 2)) GB/s, scrub \(fixed(s, 2)) GB/s, ratio \(fixed(s / r, 3)) (target >= 0.90: \(s / r >= 0.9 ? "met" : "missed"))")
    report()
}
