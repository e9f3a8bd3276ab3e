import Glibc

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

