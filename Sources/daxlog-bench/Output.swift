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
