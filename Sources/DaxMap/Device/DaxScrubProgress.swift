/// How far a scrub has come: what ``DaxDevice/scrub(range:clear:progressInterval:progress:)``
/// reports while it runs.
public struct DaxScrubProgress: Sendable, Hashable {
    /// Bytes examined so far (read, or found failed).
    public var bytesScanned: UInt64
    /// Bytes the scrub examines in all.
    public var totalBytes: UInt64
    /// Failed ranges found so far (merged).
    public var failuresFound: Int
    /// Time since the scrub started.
    public var elapsed: Duration

    /// A progress value from its parts: for tests of code that shows progress (a scrub makes the real ones).
    public init(bytesScanned: UInt64, totalBytes: UInt64, failuresFound: Int, elapsed: Duration) {
        self.bytesScanned = bytesScanned
        self.totalBytes = totalBytes
        self.failuresFound = failuresFound
        self.elapsed = elapsed
    }

    /// 0...1.
    public var fraction: Double { totalBytes == 0 ? 1 : Double(bytesScanned) / Double(totalBytes) }

    /// Bytes per second so far (0 before any time has passed).
    public var bytesPerSecond: Double {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return seconds > 0 ? Double(bytesScanned) / seconds : 0
    }

    /// The time left at the rate so far; nil before there is a rate.
    public var estimatedRemaining: Duration? {
        let rate = bytesPerSecond
        guard rate > 0 else { return nil }
        return .milliseconds(Int64(Double(totalBytes - min(bytesScanned, totalBytes)) / rate * 1000))
    }
}
