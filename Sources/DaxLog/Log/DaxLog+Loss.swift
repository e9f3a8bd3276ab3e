import DaxMap

/// What the log knows lost, and the sequence lease: kept on the media so that
/// recovery in any process reports lost records by number and never reuses one.
extension DaxLog {
    /// How far the sequence lease runs ahead of the appends: one header
    /// persist per this many numbers, and at most this many numbers a crash
    /// leaves ``DaxLogRecovery/unaccounted``.
    static let leaseStep: UInt64 = 1 << 16

    /// Before numbers up to `end` are handed out: a lease past them, persisted.
    func extendLease(_ c: inout LogCore, _ m: DaxMapping, past end: UInt64) throws(DaxLogError) {
        var header = c.header
        header.epoch += 1
        let (lease, overflow) = end.addingReportingOverflow(Self.leaseStep)
        header.lease = overflow ? UInt64.max : lease
        try storeHeader(&c, m, bytes: header.encoded(), slot: header.slot, operation: "append")
        c.header = header
    }

    /// A clean close: the lease back to the next number, so the next open
    /// resumes exactly there and reports nothing unaccounted.
    func settleLease(_ c: inout LogCore) {
        guard c.state == .open, !options.readOnly, let m = c.mapping, m.isUsable, c.header.lease != c.next else { return }
        var header = c.header
        header.epoch += 1
        header.lease = c.next
        // A close cannot fail: if this store does, the old (higher) lease
        // stands, and the next open reports the numbers above `next` as unaccounted.
        do throws(DaxLogError) {
            try storeHeader(&c, m, bytes: header.encoded(), slot: header.slot, operation: "close")
            c.header = header
        } catch {}
    }

    /// After a store or persist of an append failed: what the failure took,
    /// found at once (the error's range, a truncated file's missing tail, the
    /// mapping's marked failures), marked lost and recorded in the loss record
    /// before the append throws; the error carries the lost numbers.
    func learned(_ c: inout LogCore, _ m: DaxMapping, _ error: DaxLogError) -> DaxLogError {
        var error = error
        // Only a data failure takes records: an injected crash, a close or a
        // revoke racing the append (a removal) took none.
        guard let e = error.underlying, let failed = DaxFailedRange.Kind(thrownBy: e) else { return error }
        let before = c.lost
        // Each source of the loss is warned about once, with the device range it names.
        func mark(_ c: inout LogCore, _ range: Range<UInt64>, _ cause: String) {
            LogWarnings.lost(markLost(&c, deviceRange: range), path: c.device.path, cause: cause, deviceRange: range)
        }
        let end = offset + length
        if let size = c.device.backedSize, size < end { mark(&c, max(size, offset)..<end, "removed") }
        if let at = e.offset {
            mark(&c, at..<(at + max(e.length ?? 1, 1)), failed.rawValue)
        }
        for f in m.failures { mark(&c, f.range, f.kind.rawValue) }
        if c.lost != before { recordLoss(&c, m) }
        error.lost = c.lost
        return error
    }

    /// Marks lost every record overlapping `deviceRange`; returns the sequence
    /// numbers newly lost, coalesced (what the warning lists).
    @discardableResult
    func markLost(_ c: inout LogCore, deviceRange: Range<UInt64>) -> [Range<UInt64>] {
        let capacity = UInt64(self.capacity)
        let base = dataDeviceOffset
        var fresh: [Range<UInt64>] = []
        for e in c.entries {
            let start = base + e.position % capacity
            if start < deviceRange.upperBound && deviceRange.lowerBound < start + UInt64(e.size) && !c.isLost(e.sequence) {
                c.addLost(e.sequence..<(e.sequence + 1))
                if let last = fresh.last, last.upperBound == e.sequence {
                    fresh[fresh.count - 1] = last.lowerBound..<(e.sequence + 1)
                } else {
                    fresh.append(e.sequence..<(e.sequence + 1))
                }
            }
        }
        return fresh
    }

    /// Persists the lost numbers (from the head on) in the loss record, and on
    /// a failed log lowers the lease to the next number (nothing is handed out
    /// until a reattach, which extends it again), so a recovery in any process
    /// reports them lost and resumes right after. Best effort: when the header
    /// area fails too, the loss is known in memory only (``lostSequences``).
    func recordLoss(_ c: inout LogCore, _ m: DaxMapping) {
        guard !options.readOnly, m.isUsable, c.header.generation != 0 else { return }
        let head = c.header.headSequence
        // More separate ranges than a record holds: the closest are merged, in memory too, so both say the same.
        c.lost = LossRecord.fitted(c.lost.compactMap { r in
            let k = r.clamped(to: head..<UInt64.max)
            return k.isEmpty ? nil : k
        })
        let record = LossRecord(generation: c.header.generation, epoch: c.lossEpoch + 1, ranges: c.lost)
        do throws(DaxError) {
            try withBytes(record.encoded()) { (b: UnsafeRawBufferPointer) throws(DaxError) in
                try m.write(b, at: LogLayout.lossSlotOffsets[record.slot], persist: true)
            }
        } catch { return } // the header area is hit as well: nothing more can be kept
        c.lossEpoch = record.epoch
        guard c.state == .failed, c.header.lease > c.next else { return }
        var header = c.header
        header.epoch += 1
        header.lease = c.next
        do throws(DaxError) {
            try withBytes(header.encoded()) { (b: UnsafeRawBufferPointer) throws(DaxError) in
                try m.write(b, at: LogLayout.slotOffsets[header.slot], persist: true)
            }
            c.header = header
        } catch {} // the higher lease stands: recovery reports the numbers above `next` unaccounted, not lost
    }

    /// The newer valid loss record of the log with `generation` in a header area.
    static func lossRecord(in area: [UInt8], generation: UInt64) -> LossRecord? {
        let records = LogLayout.lossSlotOffsets.compactMap { at in
            area.withUnsafeBytes { LossRecord.decode(UnsafeRawBufferPointer(rebasing: $0[at..<(at + LogLayout.lossSlotSize)])) }
        }
        return records.filter { $0.generation == generation }.max { $0.epoch < $1.epoch }
    }
}
