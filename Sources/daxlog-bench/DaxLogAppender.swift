import DaxLog
import DaxMap
import Glibc

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
            log = try DaxLog.open(device: device, length: length,
                                  options: .init(creation: .overwrite, mapping: .init(prefault: true)))
            // One pass over the whole log first, as for libpmemlog: no cell pays first-touch page faults.
            let chunk = [UInt8](repeating: 0x5a, count: 32 << 10)
            while appendUnlessFull(log, chunk) {}
            try log.discard(upTo: log.nextSequence)
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


/// Appends `chunk`; false once the log is full.
func appendUnlessFull(_ log: DaxLog, _ chunk: [UInt8]) -> Bool {
    do throws(DaxLogError) {
        try log.append(chunk)
        return true
    } catch {
        if error.code == .full { return false }
        fail("DaxLog append: \(error)")
    }
}
