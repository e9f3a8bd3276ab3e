internal import CoreMetrics
import DaxMap
import Glibc

/// DaxLog's swift-metrics: records appended, bytes, group commits, and the
/// persist latency of each append (one `clwb`+`sfence` or `msync` pass).
/// Made when the log is opened (the append path must not look up a factory
/// per record), so a backend must be bootstrapped before the log is opened;
/// with none, swift-metrics' default NOOP handler records nothing, and the
/// append path skips the metrics (and the two clock reads) altogether.
/// CoreMetrics only: `Metrics` imports Foundation.
struct LogMetrics: Sendable {
    let appends = Counter(label: "daxlog_appends_total")
    let bytes = Counter(label: "daxlog_append_bytes_total")
    let commits = Counter(label: "daxlog_commits_total")
    let failures = Counter(label: "daxlog_append_failures_total")
    let persistLatency = Timer(label: "daxlog_persist_duration")
    /// Whether a backend was bootstrapped when the log was opened.
    let enabled = !(MetricsSystem.factory is NOOPMetricsHandler)

    /// Monotonic nanoseconds (what the persist timer measures with).
    static func now() -> UInt64 {
        Syscalls.monotonicNanoseconds()
    }

    func appended(records: Int, bytes count: Int, persistNanoseconds: UInt64) {
        appends.increment(by: Int64(records))
        bytes.increment(by: Int64(count))
        commits.increment()
        persistLatency.recordNanoseconds(Int64(truncatingIfNeeded: persistNanoseconds))
    }

    func failed() {
        if enabled { failures.increment() }
    }
}
