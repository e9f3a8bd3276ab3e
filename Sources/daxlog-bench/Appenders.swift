import CPmemlog
import DaxLog
import DaxMap
import Glibc

// The two logs, driven the same way: `threads` threads, each appending `batch`
// records of `record` bytes per call for about `seconds`, timing every call.

/// Every append call's duration on one thread, in nanoseconds: the last
/// `capacity` of them (a ring, so a long cell keeps its steady state).
final class Latencies: @unchecked Sendable {
    static let capacity = 1 << 17
    let samples = UnsafeMutablePointer<UInt32>.allocate(capacity: Latencies.capacity)
    var count = 0
    @inline(__always) func add(_ ns: UInt64) {
        samples[count & (Latencies.capacity - 1)] = UInt32(clamping: ns)
        count += 1
    }
    var recorded: UnsafeBufferPointer<UInt32> { UnsafeBufferPointer(start: samples, count: min(count, Latencies.capacity)) }
    deinit { samples.deallocate() }
}

/// What one run of all threads gave: records appended, wall time, every thread's latencies.
struct RunResult {
    var records = 0
    var nanoseconds: UInt64 = 0
    var latencies: [Latencies] = []
}

/// p50 and p99 of the calls of `runs`, in microseconds.
func percentiles(_ runs: [RunResult]) -> (p50: Double, p99: Double) {
    var all: [UInt32] = []
    for run in runs { for l in run.latencies { all.append(contentsOf: l.recorded) } }
    guard !all.isEmpty else { return (.nan, .nan) }
    all.sort()
    func at(_ q: Double) -> Double { Double(all[min(all.count - 1, Int(Double(all.count) * q))]) / 1000 }
    return (at(0.50), at(0.99))
}

/// Runs `body(thread, latencies)` on `threads` new threads at once; each returns its record count.
func onThreads(_ threads: Int, _ body: @escaping @Sendable (Int, Latencies) -> Int) -> RunResult {
    final class Job: @unchecked Sendable {
        let body: @Sendable (Int, Latencies) -> Int
        let index: Int
        let latencies = Latencies()
        var records = 0
        init(_ body: @escaping @Sendable (Int, Latencies) -> Int, _ index: Int) { self.body = body; self.index = index }
    }
    let jobs = (0..<threads).map { Job(body, $0) }
    let start = now()
    var ids: [pthread_t] = []
    for job in jobs {
        var id = pthread_t()
        let context = Unmanaged.passRetained(job).toOpaque()
        let rc = pthread_create(&id, nil, { raw in
            let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
            job.records = job.body(job.index, job.latencies)
            return nil
        }, context)
        if rc != 0 { fail("pthread_create: \(String(cString: strerror(rc)))") }
        ids.append(id)
    }
    for id in ids { pthread_join(id, nil) }
    return RunResult(records: jobs.reduce(0) { $0 + $1.records }, nanoseconds: now() - start, latencies: jobs.map(\.latencies))
}

/// The payloads of one cell: `batch` records of `record` bytes, as arrays and as buffers.
final class Payload: @unchecked Sendable {
    let bytes: UnsafeMutableRawPointer
    let record: Int
    let group: [[UInt8]]
    let buffers: [UnsafeRawBufferPointer]
    var iov: [iovec]
    init(record: Int, batch: Int) {
        self.record = record
        let base = UnsafeMutableRawPointer.allocate(byteCount: max(record, 1) * batch, alignment: 64)
        base.initializeMemory(as: UInt8.self, repeating: 0x5a, count: max(record, 1) * batch)
        bytes = base
        group = [[UInt8]](repeating: [UInt8](repeating: 0x5a, count: record), count: batch)
        let buffers = (0..<batch).map { UnsafeRawBufferPointer(start: base + $0 * record, count: record) }
        self.buffers = buffers
        iov = buffers.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: record) }
    }
    deinit { bytes.deallocate() }
}

/// One batched DaxLog append. **The switch to logperf's batched append from
/// the caller's buffers (issue 25) is this one line**: pass `p.buffers` (the
/// `[UnsafeRawBufferPointer]` already built beside the arrays) to it instead of
/// `p.group`.
@inline(__always)
func daxlogAppendBatch(_ log: DaxLog, _ p: Payload) throws(DaxLogError) {
    try log.append(contentsOf: p.group)
}

/// DaxLog on an emulated device (with the benchmarking-only cache-line
/// persistence for the cacheLine rows), or on the target device.
final class DaxLogAppender: @unchecked Sendable {
    let log: DaxLog
    init(path: String, charDevice: Bool, cacheLine: Bool, size: Int) {
        do {
            let options = DaxDevice.OpenOptions(unsafeCacheLinePersistence: cacheLine)
            let device = charDevice ? try DaxDevice.open(path)
                                    : try DaxDevice.createEmulated(at: path, size: UInt64(size), options: options)
            let length = charDevice ? min(device.size, UInt64(size)) : UInt64(size)
            log = try DaxLog.open(device: device, length: length, options: .init(creation: .overwrite))
        } catch { fail("DaxLog on \(path): \(error)") }
    }

    func run(record: Int, batch: Int, threads: Int, seconds: Double) -> RunResult {
        let payload = Payload(record: record, batch: batch)
        let log = self.log
        return onThreads(threads) { _, latencies in
            let single = payload.buffers[0]
            let limit = now() + UInt64(seconds * 1e9)
            var records = 0
            while true {
                var t = now()
                for _ in 0..<16 {
                    do throws(DaxLogError) {
                        if batch == 1 { try log.append(single) } else { try daxlogAppendBatch(log, payload) }
                    } catch where error.code == .full {
                        // A checkpoint: everything so far is applied (what a WAL does when it wraps).
                        do { try log.discard(upTo: log.nextSequence) } catch { fail("DaxLog discard: \(error)") }
                        t = now()
                        continue
                    } catch { fail("DaxLog append: \(error)") }
                    let e = now()
                    latencies.add(e - t)
                    t = e
                    records += batch
                }
                if t >= limit { return records }
            }
        }
    }
}

/// libpmemlog (PMDK 1.12): its own lock serialises appends; each pays a persist
/// (`msync` on /dev/shm, flush and fence under PMEM_IS_PMEM_FORCE=1 or on pmem).
final class PmemlogAppender: @unchecked Sendable {
    let pool: OpaquePointer
    init(path: String, charDevice: Bool, size: Int) {
        if !charDevice { unlink(path) }
        guard let p = pmemlog_create(path, charDevice ? 0 : size, 0o600) else {
            fail("pmemlog_create \(path): \(String(cString: pmemlog_errormsg()))")
        }
        pool = p
    }

    func run(record: Int, batch: Int, threads: Int, seconds: Double) -> RunResult {
        let payload = Payload(record: record, batch: batch)
        return onThreads(threads) { [self] _, latencies in
            let single = UnsafeRawPointer(payload.bytes)
            var iov = payload.iov
            let limit = now() + UInt64(seconds * 1e9)
            var records = 0
            while true {
                var t = now()
                for _ in 0..<16 {
                    let r = batch == 1 ? pmemlog_append(pool, single, record) : pmemlog_appendv(pool, &iov, Int32(batch))
                    if r != 0 {
                        guard errno == ENOSPC else { fail("pmemlog_append: \(String(cString: pmemlog_errormsg()))") }
                        pmemlog_rewind(pool)
                        t = now()
                        continue
                    }
                    let e = now()
                    latencies.add(e - t)
                    t = e
                    records += batch
                }
                if t >= limit { return records }
            }
        }
    }

    func close() { pmemlog_close(pool) }
}
