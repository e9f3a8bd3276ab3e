import DaxMap
import Glibc
import Synchronization

// Benchmark 2: the holder layer. Always on emulated devices under /dev/shm:
// the fault and removal sections truncate and remove them.

let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

func shmPath(_ name: String) -> String { "/dev/shm/daxmap-bench-\(getpid())-\(name)" }

// MARK: - Guarded vs unguarded copies

/// Guarded write (`write(_:at:persist: false)`) against `memcpy` through
/// `withUnsafeMutableBytes`, and guarded `read(at:into:)` against `memcpy` out.
final class GuardedWriter: BlockWriter {
    let name = "guarded write"
    let mapping: DaxMapping
    let length: Int
    init(_ mapping: DaxMapping, length: Int) { self.mapping = mapping; self.length = length }
    @inline(__always)
    func write(_ source: UnsafeRawPointer, _ count: Int, at offset: Int) {
        do { try mapping.write(UnsafeRawBufferPointer(start: source, count: count), at: offset, persist: false) }
        catch { fail("guarded write: \(error)") }
    }
}

final class UnguardedWriter: BlockWriter {
    let name = "unguarded write"
    let mapping: DaxMapping
    let length: Int
    init(_ mapping: DaxMapping, length: Int) { self.mapping = mapping; self.length = length }
    @inline(__always)
    func write(_ source: UnsafeRawPointer, _ count: Int, at offset: Int) {
        mapping.withUnsafeMutableBytes { _ = memcpy($0.baseAddress! + offset, source, count) }
    }
}

/// Reads: `source` is the destination buffer here (the benchmark loop's naming).
final class GuardedReader: BlockWriter {
    let name = "guarded read"
    let mapping: DaxMapping
    let length: Int
    init(_ mapping: DaxMapping, length: Int) { self.mapping = mapping; self.length = length }
    @inline(__always)
    func write(_ source: UnsafeRawPointer, _ count: Int, at offset: Int) {
        do { try mapping.read(at: offset, into: UnsafeMutableRawBufferPointer(start: UnsafeMutableRawPointer(mutating: source), count: count)) }
        catch { fail("guarded read: \(error)") }
    }
}

final class UnguardedReader: BlockWriter {
    let name = "unguarded read"
    let mapping: DaxMapping
    let length: Int
    init(_ mapping: DaxMapping, length: Int) { self.mapping = mapping; self.length = length }
    @inline(__always)
    func write(_ source: UnsafeRawPointer, _ count: Int, at offset: Int) {
        mapping.withUnsafeMutableBytes { _ = memcpy(UnsafeMutableRawPointer(mutating: source), $0.baseAddress! + offset, count) }
    }
}

func runGuardBenchmark(options: BenchOptions) {
    let block = 4 << 10
    let hot = 1 << 20, cold = 64 << 20
    report("== Guarded vs unguarded copy, \(sizeName(block)) blocks (target: guarded <= 5 % slower; 64 B rows: fixed cost) ==")
    report("  guarded   = DaxMapping.write(_:at:persist: false) / read(at:into:): checks + recoverable copy (copy_mc.c)")
    report("  unguarded = memcpy inside DaxMapping.withUnsafeMutableBytes (one call per copy)")
    report("  emulated device on /dev/shm, pre-faulted; hot = \(sizeName(hot)) region (in L2), cold = \(sizeName(cold)) (> LLC)")
    let path = shmPath("guard")
    defer { unlink(path) }
    let device: DaxDevice
    let mapping: DaxMapping
    do {
        device = try DaxDevice.createEmulated(at: path, size: UInt64(cold))
        mapping = try device.map(options: .init(prefault: true))
    } catch {
        fail("guard benchmark setup: \(error)")
    }
    defer { device.close() }
    mapping.withUnsafeMutableBytes { prefault($0.baseAddress!, $0.count) }
    let buffer = AlignedBuffer(count: block)
    var rows: [[String]] = []
    // The 4 KiB rows carry the target; 64 B hot shows the fixed cost per call.
    for (size, label, length) in [(block, "hot", hot), (block, "cold", cold), (64, "hot", hot)] {
        for (guarded, unguarded) in [(GuardedWriter(mapping, length: length) as any BlockWriter,
                                      UnguardedWriter(mapping, length: length) as any BlockWriter),
                                     (GuardedReader(mapping, length: length), UnguardedReader(mapping, length: length))] {
            var cursors = [0, 0]
            let r = measureInterleaved([guarded, unguarded], cursors: &cursors, source: buffer.pointer, block: size,
                                       seconds: options.cellSeconds * (size == block ? 1 : 0.5), rounds: max(options.rounds, 7))
            let overhead = (r[1] / r[0] - 1) * 100
            let nsGuarded = Double(size) / r[0], nsUnguarded = Double(size) / r[1]
            rows.append(["\(guarded.name.split(separator: " ").last!) \(sizeName(size)) \(label)", fixed(r[0], 2), fixed(r[1], 2),
                         fixed(nsGuarded, 1), fixed(nsUnguarded, 1), fixed(overhead, 1) + " %",
                         size != block ? "-" : overhead <= 5 ? "met" : "missed"])
        }
    }
    printTable(["copy", "guarded GB/s", "unguarded GB/s", "guarded ns", "unguarded ns", "overhead", "<= 5 %"], rows)
    report("  (overhead = unguarded/guarded - 1 on medians; ns = per copy; cold rows move by several % run to run)")
    report()
}

// MARK: - SIGBUS → holder notified

/// Records when it is first told anything, and closes its mappings on preRemove.
final class StampingHolder: DaxHolder {
    let stamp = Atomic<UInt64>(0)
    let kind = Mutex<DaxFailure.Kind?>(nil)
    let mappings = Mutex<[DaxMapping]>([])

    func reset() {
        stamp.store(0, ordering: .releasing)
        kind.withLock { $0 = nil }
    }

    func adopt(_ mapping: DaxMapping) { mappings.withLock { $0.append(mapping) } }

    func notifyFailure(_ failure: DaxFailure) async -> Bool {
        let now = nowNanoseconds()
        _ = stamp.compareExchange(expected: 0, desired: now, ordering: .acquiringAndReleasing)
        kind.withLock { if $0 == nil { $0 = failure.kind } }
        if failure.kind == .preRemove {
            let mine = mappings.withLock { m -> [DaxMapping] in
                let all = m
                m.removeAll()
                return all
            }
            for m in mine { m.close() }
        }
        return true
    }
}

func runSigbusLatency(options: BenchOptions) async {
    let samples = options.latencySamples
    report("== SIGBUS -> holder notified, \(samples) samples per variant (target: p99 < 1 ms) ==")
    report("  per sample: map a 16-page emulated device (holder stamps CLOCK_MONOTONIC in notifyFailure),")
    report("  truncate the file to 8 pages, stamp, touch page 12: real SIGBUS BUS_ADRERR; latency = holder - touch")
    report("  unguarded = raw load via withUnsafeMutableBytes (policy replacePages: page replaced)")
    report("  guarded   = DaxMapping.read(at:into:) throws .deviceRemoved, holder told .removed")
    let path = shmPath("sigbus")
    defer { unlink(path) }
    let length = 16 * pageSize
    var rows: [[String]] = []
    for guarded in [false, true] {
        var latencies: [Double] = []
        var timeouts = 0
        var wrongKind = 0
        // Either way a shorter file: the holder is told the lost tail, `.removed`, once.
        let expected: DaxFailure.Kind = .removed
        for _ in 0..<samples {
            // A fresh device each sample: a truncation is told to every mapping of
            // its device, so a late notice of the last sample must not reach this one.
            unlink(path)
            let device: DaxDevice
            do { device = try DaxDevice.createEmulated(at: path, size: UInt64(length)) } catch { fail("\(error)") }
            defer { device.close() }
            let holder = StampingHolder()
            let mapping: DaxMapping
            do { mapping = try device.map(holder: holder) } catch { fail("map: \(error)") }
            mapping.withUnsafeMutableBytes { prefault($0.baseAddress!, $0.count) }
            guard truncate(path, off_t(8 * pageSize)) == 0 else { fail("truncate \(path): errno \(errno)") }
            let offset = 12 * pageSize + 64
            let start = nowNanoseconds()
            if guarded {
                var byte: UInt8 = 0
                do {
                    try withUnsafeMutableBytes(of: &byte) { try mapping.read(at: offset, into: $0) }
                    fail("guarded read past the truncation did not fault")
                } catch {}
            } else {
                let value = mapping.withUnsafeMutableBytes { $0.load(fromByteOffset: offset, as: UInt8.self) }
                if value != 0 { fail("the replaced page read \(value), not 0") }
            }
            // Wait (bounded) for the notification; the holder's own stamp is the measurement.
            let deadline = start + 2_000_000_000
            while holder.stamp.load(ordering: .acquiring) == 0 && nowNanoseconds() < deadline {
                try? await Task.sleep(for: .microseconds(20))
            }
            let stamp = holder.stamp.load(ordering: .acquiring)
            if stamp == 0 { timeouts += 1 } else { latencies.append((Double(stamp) - Double(start)) / 1000) }
            if stamp != 0 && holder.kind.withLock({ $0 }) != expected { wrongKind += 1 }
            mapping.close()
        }
        let p99 = latencies.quantile(0.99)
        rows.append([guarded ? "guarded read" : "unguarded load", "\(latencies.count)", fixed(latencies.quantile(0.5), 1),
                     fixed(latencies.quantile(0.9), 1), fixed(p99, 1), fixed(latencies.max() ?? .nan, 1),
                     p99 < 1000 && timeouts == 0 ? "met" : "missed"])
        if timeouts > 0 { report("  \(timeouts) sample(s) never notified within 2 s") }
        if wrongKind > 0 { report("  \(wrongKind) sample(s) notified with a kind other than \(expected)") }
    }
    printTable(["variant", "samples", "p50 us", "p90 us", "p99 us", "max us", "p99 < 1 ms"], rows)
    report()
}

// MARK: - Removal → all holders released

func runRemovalBenchmark(options: BenchOptions) async {
    let total = 1000
    report("== Removal with \(total) mappings: beginRemoval() until every holder released (target: < 100 ms) ==")
    report("  emulated device of \(total) pages on /dev/shm, one page per mapping; holders close their")
    report("  mappings on .preRemove; wall = beginRemoval() call to return; report = DaxRemovalReport.duration")
    let path = shmPath("removal")
    defer { unlink(path) }
    var rows: [[String]] = []
    for holders in [total, 100] {
        let perHolder = total / holders
        var walls: [Double] = []
        var durations: [Double] = []
        var problems: [String] = []
        for _ in 0..<options.removalRepeats {
            let device: DaxDevice
            do {
                device = try DaxDevice.createEmulated(at: path, size: UInt64(total * pageSize))
            } catch {
                fail("\(error)")
            }
            var all: [StampingHolder] = []
            do {
                for h in 0..<holders {
                    let holder = StampingHolder()
                    for m in 0..<perHolder {
                        let mapping = try device.map(offset: UInt64((h * perHolder + m) * pageSize),
                                                     length: UInt64(pageSize), holder: holder)
                        holder.adopt(mapping)
                    }
                    all.append(holder)
                }
            } catch {
                fail("map: \(error)")
            }
            let start = nowNanoseconds()
            let result = await device.beginRemoval()
            let wall = Double(nowNanoseconds() - start) / 1e6
            walls.append(wall)
            durations.append(Double(result.duration.components.seconds) * 1000
                + Double(result.duration.components.attoseconds) / 1e15)
            if result.mappingsReleased != total || result.mappingsRevoked != 0 || result.holdersNotified != holders {
                problems.append("\(result)")
            }
            withExtendedLifetime(all) {}
            all.removeAll()
            unlink(path)
        }
        rows.append(["\(holders) x \(perHolder)", fixed(walls.median, 2), fixed(walls.min() ?? .nan, 2),
                     fixed(walls.max() ?? .nan, 2), fixed(durations.median, 2),
                     walls.median < 100 && problems.isEmpty ? "met" : "missed"])
        for p in problems { report("  unexpected report: \(p)") }
    }
    printTable(["holders x mappings", "wall median ms", "min ms", "max ms", "report median ms", "< 100 ms"], rows)
    report("  (\(options.removalRepeats) repeats each; the removal thread polls every 200 us)")
    report()
}
