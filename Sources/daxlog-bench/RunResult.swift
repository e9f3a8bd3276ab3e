import Glibc

// The two logs, driven the same way: `threads` threads, each appending `batch`
// records of `record` bytes per call for about `seconds`, timing every call.

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

