internal import CoreMetrics

/// DaxLog's swift-metrics: records appended, bytes, group commits, and the
/// persist latency of each append (one `clwb`+`sfence` or `msync` pass).
/// Made when the log is opened (the append path must not look up a factory
/// per record), so a backend must be bootstrapped before the log is opened;
/// with none, swift-metrics' default NOOP handler records nothing.
/// CoreMetrics only: `Metrics` imports Foundation.
struct LogMetrics: Sendable {
    let appends = Counter(label: "daxlog_appends_total")
    let bytes = Counter(label: "daxlog_append_bytes_total")
    let commits = Counter(label: "daxlog_commits_total")
    let failures = Counter(label: "daxlog_append_failures_total")
    let persistLatency = Timer(label: "daxlog_persist_duration")

    func appended(records: Int, bytes count: Int, persist: Duration) {
        appends.increment(by: Int64(records))
        bytes.increment(by: Int64(count))
        commits.increment()
        let (s, atto) = persist.components
        persistLatency.recordNanoseconds(s &* 1_000_000_000 &+ atto / 1_000_000_000)
    }
}
