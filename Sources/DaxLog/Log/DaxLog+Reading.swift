import DaxMap

/// Reading without building every record at once: one record by number, or a cursor.
extension DaxLog {
    /// A cursor over the live records from sequence `from` on, read one at a
    /// time (``DaxLogCursor/next()``); ``records(from:)`` builds them all at once.
    public func cursor(from: UInt64 = 0) -> DaxLogCursor { DaxLogCursor(log: self, position: from) }

    /// The record with sequence number `sequence`, checksum-verified.
    /// - Throws: `.noSuchRecord` when it is not there: discarded, lost, not
    ///   yet appended (or not yet acknowledged), or failing to read now (it is
    ///   then marked lost, as ``records(from:)`` does); `.sealed` or
    ///   `.closed` when the log's mapping is released.
    public func record(_ sequence: UInt64) throws(DaxLogError) -> DaxLogRecord {
        try core.withLock { (c: inout LogCore) throws(DaxLogError) -> DaxLogRecord in
            let m = try readable(&c, "record")
            let why: String
            if sequence < c.header.headSequence {
                why = "it was discarded (the first live record is \(c.header.headSequence))"
            } else if sequence >= c.durableNext {
                why = "it was not appended yet (the next sequence number is \(c.durableNext))"
            } else if c.isLost(sequence) {
                why = "it is lost (see lostSequences)"
            } else if let i = entryIndex(c.entries, atLeast: sequence), c.entries[i].sequence == sequence {
                var buffer = [UInt8]()
                if let r = reader(c, m).record(c.entries[i], buffer: &buffer) { return r }
                unreadable(&c, m, sequence)
                why = "it failed to read back intact just now: it is marked lost"
            } else {
                why = "no record holds that number (a gap: see lostSequences and recovery)"
            }
            throw DaxLogError(.noSuchRecord, operation: "record", path: c.device.path, sequence: sequence,
                              message: "no record \(sequence): \(why)")
        }
    }

    /// The first live, acknowledged, intact record with a sequence number of at least `from`.
    func readNext(from: UInt64) throws(DaxLogError) -> DaxLogRecord? {
        try core.withLock { (c: inout LogCore) throws(DaxLogError) -> DaxLogRecord? in
            let m = try readable(&c, "read")
            guard var i = entryIndex(c.entries, atLeast: from) else { return nil }
            var buffer = [UInt8]()
            let read = reader(c, m)
            while i < c.entries.count, c.entries[i].sequence < c.durableNext {
                let e = c.entries[i]
                i += 1
                if c.isLost(e.sequence) { continue }
                if let r = read.record(e, buffer: &buffer) { return r }
                unreadable(&c, m, e.sequence)
            }
            return nil
        }
    }

    private func readable(_ c: inout LogCore, _ operation: String) throws(DaxLogError) -> DaxMapping {
        guard let m = c.mapping, m.isUsable else {
            throw DaxLogError(c.state == .closed ? .closed : .sealed, operation: operation, path: c.device.path,
                              message: "the log's mapping is released (\(c.state)); reattach first")
        }
        return m
    }

    private func reader(_ c: LogCore, _ m: DaxMapping) -> LogRecordReader<DaxMapping> {
        LogRecordReader(medium: m, generation: c.header.generation, capacity: UInt64(capacity))
    }

    /// A record that failed to read now: lost, warned about, and on the media's loss record.
    private func unreadable(_ c: inout LogCore, _ m: DaxMapping, _ sequence: UInt64) {
        c.addLost(sequence..<(sequence + 1))
        LogWarnings.lost([sequence..<(sequence + 1)], path: c.device.path, cause: "read")
        recordLoss(&c, m)
    }

    /// The index of the first entry with a sequence number of at least `sequence` (entries ascend).
    private func entryIndex(_ entries: [LogCore.Entry], atLeast sequence: UInt64) -> Int? {
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].sequence < sequence { lo = mid + 1 } else { hi = mid }
        }
        return lo < entries.count ? lo : nil
    }
}
