internal import CDaxMap
internal import DaxMapSync

/// What the signal handler marked failed in this mapping, and the errors guarded accesses throw for it.
extension DaxMapping {
    /// Every range of this mapping daxmap no longer trusts, with why: poison,
    /// memory removed under it (a truncated file's tail), pages replaced after
    /// an unguarded fault. Marked by the signal handler as the fault happens,
    /// so this is complete even when fault records were dropped; coalesced per
    /// kind. Past ``maximumFailedExtents`` distinct extents the whole mapping
    /// is listed. Kept after ``close()``.
    public var failures: [DaxFailedRange] { markedFailures() }

    /// Distinct failed extents a mapping records before it counts as failed as a whole.
    public static let maximumFailedExtents = Int(CDAXMAP_FAILED_CAPACITY)

    /// Device ranges whose pages were replaced after an unguarded fault: what
    /// was read there is not the device's data.
    public var lostRanges: [Range<UInt64>] { failures.filter { $0.kind == .pagesLost }.map(\.range) }

    /// Device ranges the kernel reported as failed memory (poison): guarded
    /// accesses there throw `.mediaFailure` until the device is reopened.
    public var failedRanges: [Range<UInt64>] { failures.filter { $0.kind == .poison }.map(\.range) }

    func markedFailures() -> [DaxFailedRange] {
        if slotFreed.load(ordering: .acquiring) { return closedFailures.withLock { $0 } }
        let marks = readMarks()
        // The slot may have been given back (and reused) while we read it.
        if slotFreed.load(ordering: .acquiring) { return closedFailures.withLock { $0 } }
        return marks
    }

    func readMarks() -> [DaxFailedRange] {
        let classifier = FaultClassifier(self)
        let start = UInt(bitPattern: base.pointer)
        if let kind = Optional(cdaxmap_range_overflowed(slot)), kind != 0 {
            return [classifier.failedRange(kind: kind, lo: start, hi: start + UInt(count))]
        }
        var room = Self.maximumFailedExtents
        while true {
            var kinds = [CInt](repeating: 0, count: room)
            var los = [UInt](repeating: 0, count: room), his = [UInt](repeating: 0, count: room)
            let n = Int(cdaxmap_range_failed(slot, &kinds, &los, &his, room))
            if n > room {
                room = n
                continue
            }
            return (0..<n).map { classifier.failedRange(kind: kinds[$0], lo: los[$0], hi: his[$0]) }
        }
    }

    /// The epoch of this mapping's newest mark: a failure re-derived from its
    /// marks was observed by then. Now when the slot is already given back.
    var markedEpoch: UInt64 {
        let epoch = cdaxmap_range_marked_epoch(slot)
        return slotFreed.load(ordering: .acquiring) ? DaxFailure.epochNow : epoch
    }

    /// Marks a device range of this mapping failed in the handler's table, so
    /// guarded accesses refuse it without faulting (a re-derived failure), with
    /// the mark the vocabulary gives `kind` (none for a kind that leaves none).
    func mark(_ kind: FailureCause.Kind, _ range: Range<UInt64>) {
        let part = range.clamped(to: deviceRange)
        guard let mark = kind.mark, !part.isEmpty, !slotFreed.load(ordering: .acquiring) else { return }
        let start = UInt(bitPattern: base.pointer)
        // -ENOSPC only: the slot then counts as failed whole with this kind (cdaxmap_range_overflowed).
        _ = cdaxmap_range_mark(slot, mark, start + UInt(part.lowerBound - offset), start + UInt(part.upperBound - offset))
    }

    /// The error a guarded access throws for the fault its guard caught.
    func faultError(_ operation: String, _ fault: cdaxmap_fault) -> DaxError {
        FaultClassifier(self).error(operation, fault, closed: state == .closed, gone: goneBytes(from:))
    }

    /// Bytes from device offset `at` to the end of this mapping known to be
    /// gone after a `BUS_ADRERR`: a truncated file's size, else a `removed`
    /// mark (the monitor marks a truncated tail) covering `at`; nil when
    /// unknown (device-dax: the whole device is going).
    func goneBytes(from at: UInt64) -> UInt64? {
        let end = offset + UInt64(count)
        guard at < end else { return nil }
        if let size = device.handle.backingSize(), size <= at { return end - at }
        if let mark = markedFailures().first(where: { $0.kind == .removed && $0.range.contains(at) }) {
            return min(mark.range.upperBound, end) - at
        }
        return nil
    }
}
