import Glibc

/// One measured cell: records/s of both logs, and their append latency percentiles (µs, per call).
struct Row {
    var record: Int
    var batch: Int
    var threads: Int
    var granularity: String
    var daxlog = 0.0, pmemlog = 0.0
    var daxP50 = 0.0, daxP99 = 0.0, pmemP50 = 0.0, pmemP99 = 0.0

    /// The line a child process hands its parent (`row` and ten fields).
    var wire: String {
        "row \(record) \(batch) \(threads) \(granularity) \(fixed(daxlog, 1)) \(fixed(pmemlog, 1)) "
            + "\(fixed(daxP50, 2)) \(fixed(daxP99, 2)) \(fixed(pmemP50, 2)) \(fixed(pmemP99, 2))"
    }

    init(record: Int, batch: Int, threads: Int, granularity: String) {
        self.record = record; self.batch = batch; self.threads = threads; self.granularity = granularity
    }

    /// A row from its wire line; nil for any other line.
    init?(wire line: Substring) {
        let f = line.split(separator: " ")
        guard f.count == 11, f[0] == "row", let r = Int(f[1]), let b = Int(f[2]), let t = Int(f[3]),
              let d = Double(f[5]), let p = Double(f[6]), let d50 = Double(f[7]), let d99 = Double(f[8]),
              let p50 = Double(f[9]), let p99 = Double(f[10]) else { return nil }
        self.init(record: r, batch: b, threads: t, granularity: String(f[4]))
        daxlog = d; pmemlog = p; daxP50 = d50; daxP99 = d99; pmemP50 = p50; pmemP99 = p99
    }
}

