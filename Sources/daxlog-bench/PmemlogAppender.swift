import CPmemlog
import Glibc

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
        // One pass over the whole log first, as for DaxLog: no cell pays first-touch page faults.
        let chunk = [UInt8](repeating: 0x5a, count: 32 << 10)
        while chunk.withUnsafeBytes({ pmemlog_append(p, $0.baseAddress, $0.count) }) == 0 {}
        guard errno == ENOSPC else { fail("pmemlog_append: \(String(cString: pmemlog_errormsg()))") }
        pmemlog_rewind(p)
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
