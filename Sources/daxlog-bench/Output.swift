import Glibc

// Output helpers of daxlog-bench (no Foundation): whole writes, fixed-point
// numbers, the text table and the JSON array.

func writeAll(_ fd: CInt, _ text: String) {
    var text = text
    text.withUTF8 { b in
        var done = 0
        while done < b.count {
            let n = write(fd, b.baseAddress! + done, b.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            done += n
        }
    }
}

/// A line of the human-readable report: standard output, or standard error under --json (and in a child).
func report(_ line: String = "") { writeAll(json || wire ? STDERR_FILENO : STDOUT_FILENO, line + "\n") }

func fail(_ line: String) -> Never {
    writeAll(STDERR_FILENO, "daxlog-bench: \(line)\n")
    exit(1)
}

func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

func fixed(_ v: Double, _ decimals: Int) -> String {
    guard v.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let n = UInt64((v * scale).rounded())
    var frac = String(n % UInt64(scale))
    while frac.count < decimals { frac = "0" + frac }
    return String(n / UInt64(scale)) + (decimals > 0 ? "." + frac : "")
}

func padded(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }

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

func printTable(_ rows: [Row]) {
    report("| granularity | record | batch | threads | DaxLog rec/s | libpmemlog rec/s | ratio | DaxLog p50 / p99 µs | libpmemlog p50 / p99 µs |")
    report("|:------------|-------:|------:|--------:|-------------:|-----------------:|------:|--------------------:|------------------------:|")
    for r in rows {
        report("| \(r.granularity.padding(11)) | \(padded(String(r.record), 6)) | \(padded(String(r.batch), 5)) | "
            + "\(padded(String(r.threads), 7)) | \(padded(fixed(r.daxlog, 0), 12)) | \(padded(fixed(r.pmemlog, 0), 16)) | "
            + "\(padded(fixed(r.daxlog / r.pmemlog, 2), 5)) | \(padded(fixed(r.daxP50, 1) + " / " + fixed(r.daxP99, 1), 19)) | "
            + "\(padded(fixed(r.pmemP50, 1) + " / " + fixed(r.pmemP99, 1), 23)) |")
    }
}

func printJSON(_ rows: [Row]) {
    let objects = rows.map {
        "{\"record\": \($0.record), \"batch\": \($0.batch), \"threads\": \($0.threads), \"granularity\": \"\($0.granularity)\", "
            + "\"daxlog_rps\": \(fixed($0.daxlog, 1)), \"libpmemlog_rps\": \(fixed($0.pmemlog, 1)), "
            + "\"daxlog_p50_us\": \(fixed($0.daxP50, 2)), \"daxlog_p99_us\": \(fixed($0.daxP99, 2)), "
            + "\"libpmemlog_p50_us\": \(fixed($0.pmemP50, 2)), \"libpmemlog_p99_us\": \(fixed($0.pmemP99, 2))}"
    }
    writeAll(STDOUT_FILENO, "[" + objects.joined(separator: ",\n ") + "]\n")
}

extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}
