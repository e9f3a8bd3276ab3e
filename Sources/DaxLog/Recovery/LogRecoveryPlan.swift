/// What recovery concludes from a scan: the numbers lost, the next number,
/// the unaccounted ones, why it stopped, and what must be written so the
/// media says the same (a gap record for numbers acknowledged but gone, a
/// skip record for numbers leased but found nowhere). One pure function, so
/// `open`, `reattach` and the fuzzer's in-memory recovery decide alike.
struct LogRecoveryPlan {
    var lost: [Range<UInt64>]
    var next: UInt64
    /// Numbers acknowledged once and not found again: lost; a gap record to their end.
    var gap: Range<UInt64>?
    /// Numbers below the lease that no record holds: never reused; a skip record to their end.
    var skip: Range<UInt64>?
    var unaccounted: [Range<UInt64>]
    var stop: DaxLogRecovery.StopReason

    /// - Parameters:
    ///   - loss: the loss record of the log's header area, if one is valid.
    ///   - previous: in the same process (a reattach), what it knew: it handed
    ///     out exactly the numbers below `next`, so the lease says nothing more.
    ///   - tailOffset: the device offset of the scan's tail (for a lost tail).
    init<Medium>(header: LogHeader, scan: LogScanner<Medium>.Result, loss: LossRecord?,
         previous: (next: UInt64, lost: [Range<UInt64>])?, tailOffset: UInt64) {
        let live = header.headSequence..<UInt64.max
        var lost: [Range<UInt64>] = []
        for r in scan.lost { lost = LogCore.adding(r, to: lost) }
        // What this process, or any before it, recorded lost.
        for r in loss?.ranges ?? [] { lost = LogCore.adding(r.clamped(to: live), to: lost) }
        for r in previous?.lost ?? [] { lost = LogCore.adding(r.clamped(to: live), to: lost) }
        var next = scan.next
        // Acknowledged once, not found again: lost, and said so on the media.
        let acknowledged = max(previous?.next ?? 0, lost.last?.upperBound ?? 0)
        if acknowledged > next {
            gap = next..<acknowledged
            lost = LogCore.adding(next..<acknowledged, to: lost)
            next = acknowledged
        }
        // Below the lease but found nowhere: maybe handed out, never reused.
        var unaccounted = scan.skipped.map { $0.clamped(to: live) }.filter { r in !r.isEmpty && !lost.contains { $0.overlaps(r) } }
        let lease = previous == nil ? header.lease : 0
        if lease > next {
            skip = next..<lease
            unaccounted.append(next..<lease)
            next = lease
        }
        // A tail whose numbers were acknowledged and recorded lost is not a torn (never acknowledged) one.
        let isLost = { (s: UInt64) in lost.contains { $0.contains(s) } }
        var stop = scan.stop
        switch stop {
        case .tornTail(let s, let o) where isLost(s): stop = .lostTail(firstLost: s, deviceOffset: o)
        case .cleanEnd where isLost(scan.next): stop = .lostTail(firstLost: scan.next, deviceOffset: tailOffset)
        default: break
        }
        self.lost = lost
        self.next = next
        self.unaccounted = unaccounted
        self.stop = stop
    }
}
