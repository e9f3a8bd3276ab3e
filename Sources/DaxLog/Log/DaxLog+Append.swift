internal import CDaxLog
import DaxMap

/// The append path: records are stored straight from the caller's buffers
/// into the mapping under the log's lock (checksummed from those buffers,
/// three records at a time), then made persistent by a group commit outside
/// it, so appenders on other threads store while one persist runs and the
/// next persist covers all of them.
extension DaxLog {
    /// Appends records with the payloads `sources` (all or nothing); returns
    /// their sequence numbers once a persist covers them.
    func appendRecords<S: RecordPayloads>(_ sources: S) throws(DaxLogError) -> Range<UInt64> {
        guard sources.count > 0 else {
            throw DaxLogError(.invalidArgument, operation: "append", message: "an empty batch")
        }
        let stored = try core.withLock { (c: inout LogCore) throws(DaxLogError) -> StoredAppend in
            try storeLocked(&c, sources)
        }
        if !stored.committed { try commit(stored) }
        return stored.sequences
    }

    /// Checks, reserves and stores the records (not yet persistent, except on
    /// the test hook's path, which persists under the lock as every append once did).
    private func storeLocked<S: RecordPayloads>(_ c: inout LogCore, _ sources: S) throws(DaxLogError) -> StoredAppend {
        let m = try writable(&c, "append")
        let limit = maximumRecordSize
        let count = sources.count
        var payloadBytes = 0
        for i in 0..<count {
            let n = sources.length(i)
            if n > limit {
                throw DaxLogError(.invalidArgument, operation: "append", path: c.device.path,
                                  message: "record \(i) of the batch has \(n) bytes; at most \(limit) fit this log")
            }
            payloadBytes += n
        }
        let tail = try endOfRecords(&c, count: count, size: { LogLayout.recordSize(sources.length($0)) }, operation: "append")
        let first = c.next
        // One header persist per `leaseStep` numbers, before any of them is acknowledged.
        if first + UInt64(count) > c.header.lease { try extendLease(&c, m, past: first + UInt64(count)) }
        let entriesBefore = c.entries.count
        // The test hook, read once per batch: nil in production.
        let injector = c.injector
        do {
            try storeRecords(&c, m, sources, first: first, injector: injector, entriesBefore: entriesBefore)
            if injector != nil {
                var spans = PersistSpans()
                positionSpans(c.tail, tail) { spans.add(at: $0, size: $1) }
                try persist(&c, m, .recordPersist, spans: spans, operation: "append", sequence: first)
            }
        } catch {
            c.entries.removeSubrange(entriesBefore...)
            let failed = learned(&c, m, error)
            appendFailed(failed)
            throw failed
        }
        c.tail = tail
        c.next = first + UInt64(count)
        if injector != nil {
            c.durableTail = tail
            c.durableNext = c.next
            metrics.appended(records: count, bytes: payloadBytes, persistNanoseconds: 0)
        }
        return StoredAppend(sequences: first..<c.next, end: tail, attachment: c.attachment, mapping: m,
                            payloadBytes: payloadBytes, committed: injector != nil)
    }

    /// The mapping ranges of logical positions [from, to): one, or two where they wrap.
    func positionSpans<E: Error>(_ from: UInt64, _ to: UInt64, _ body: (Int, Int) throws(E) -> Void) throws(E) {
        let capacity = UInt64(self.capacity)
        let from = max(from, to >= capacity ? to - capacity : 0)
        guard to > from else { return }
        let start = from % capacity, total = to - from
        let first = min(total, capacity - start)
        try body(LogLayout.headerArea + Int(start), Int(first))
        if total > first { try body(LogLayout.headerArea, Int(total - first)) }
    }

    /// Payloads from this size on are copied to the device straight from the
    /// caller's buffer; smaller ones are copied after their header in scratch
    /// memory first, so a run of them is one guarded copy: a guarded copy
    /// costs more to set up than a small copy in the cache takes
    /// (DaxLog.docc/FormatAndRecovery.md, "The append path").
    static let directPayload = 1024
}

extension DaxLog {
    /// Stores the records: each one's 24-byte header is made in scratch
    /// memory, the checksums computed from the headers and the payloads (the
    /// caller's buffers), and the records copied to the mapping with one
    /// guarded gathered store for every run of records contiguous on the device.
    private func storeRecords<S: RecordPayloads>(_ c: inout LogCore, _ m: DaxMapping, _ sources: S,
                              first: UInt64, injector: (@Sendable (StorePoint) -> StoreAction)?,
                              entriesBefore: Int) throws(DaxLogError) {
        let count = sources.count
        var area = 0
        for i in 0..<count {
            let n = sources.length(i)
            area += sources.direct(i) ? LogLayout.recordHeader : LogLayout.recordSize(n)
        }
        let pieceStride = MemoryLayout<GatherPiece>.stride
        // pointers: heads, payloads · lengths · (spare) · pieces (3 a record) · checksums · 8 zeros · records area
        let bytes = count * (8 + 8 + 8 + 8 + 3 * pieceStride + 4) + 8 + area
        try withUnsafeTemporaryAllocation(byteCount: bytes, alignment: 16) { (raw: UnsafeMutableRawBufferPointer) throws(DaxLogError) in
            let base = raw.baseAddress!
            let heads = base.bindMemory(to: UnsafeMutablePointer<UInt8>?.self, capacity: count)
            let payloads = (base + 8 * count).bindMemory(to: UnsafeRawPointer?.self, capacity: count)
            let lengths = (base + 16 * count).bindMemory(to: Int.self, capacity: count)
            let pieces = (base + 32 * count).bindMemory(to: GatherPiece.self, capacity: 3 * count)
            let crcs = (base + (32 + 3 * pieceStride) * count).bindMemory(to: UInt32.self, capacity: count)
            let zeros = base + (36 + 3 * pieceStride) * count
            zeros.storeBytes(of: 0, as: UInt64.self)
            var record = zeros + 8
            for i in 0..<count {
                let h = record, n = sources.length(i)
                let batch = LogLayout.Batch(i, of: count)
                h.storeBytes(of: UInt32(n).littleEndian, toByteOffset: 4, as: UInt32.self)
                h.storeBytes(of: (first + UInt64(i)).littleEndian, toByteOffset: 8, as: UInt64.self)
                h.storeBytes(of: LogLayout.typeData.littleEndian, toByteOffset: 16, as: UInt32.self)
                h.storeBytes(of: batch.index.littleEndian, toByteOffset: 20, as: UInt16.self)
                h.storeBytes(of: batch.rest.littleEndian, toByteOffset: 22, as: UInt16.self)
                (heads + i).initialize(to: h.assumingMemoryBound(to: UInt8.self))
                (lengths + i).initialize(to: n)
                if sources.direct(i) {
                    (payloads + i).initialize(to: sources.address(i))
                    record += LogLayout.recordHeader
                } else {
                    let size = LogLayout.recordSize(n)
                    sources.copy(i, to: h + LogLayout.recordHeader)
                    (h + LogLayout.recordHeader + n).initializeMemory(as: UInt8.self, repeating: 0, count: size - LogLayout.recordHeader - n)
                    (payloads + i).initialize(to: UnsafeRawPointer(h + LogLayout.recordHeader))
                    record += size
                }
            }
            cdaxlog_crc32c_records(LogLayout.seed(c.header.generation), count, heads, payloads, lengths, crcs)
            for i in 0..<count { UnsafeMutableRawPointer(heads[i]!).storeBytes(of: crcs[i].littleEndian, as: UInt32.self) }
            try storeRuns(&c, m, first: first, count: count, heads: heads, payloads: payloads, lengths: lengths,
                          pieces: pieces, zeros: UnsafeRawPointer(zeros), injector: injector, entriesBefore: entriesBefore)
        }
    }

    /// Stores the encoded records in runs, one gathered guarded store a run: a
    /// run ends at a pad record, and with the test hook at every record (its
    /// action is the record's alone).
    private func storeRuns(_ c: inout LogCore, _ m: DaxMapping, first: UInt64, count: Int,
                           heads: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, payloads: UnsafeMutablePointer<UnsafeRawPointer?>,
                           lengths: UnsafeMutablePointer<Int>,
                           pieces: UnsafeMutablePointer<GatherPiece>, zeros: UnsafeRawPointer,
                           injector: (@Sendable (StorePoint) -> StoreAction)?, entriesBefore: Int) throws(DaxLogError) {
        let capacity = UInt64(self.capacity)
        var run = 0, runAt = 0, runBytes = 0, runPieces = 0, used = 0
        func storeRun(_ c: inout LogCore) throws(DaxLogError) {
            guard runPieces > used else { return }
            let slice = UnsafeBufferPointer(start: pieces + used, count: runPieces - used)
            defer { used = runPieces }
            do throws(DaxError) { try m.writeGathered(slice, at: runAt, count: runBytes) } catch {
                var named = failed(&c, "append", error, sequence: first + UInt64(run))
                // Name the record the fault hit, not the run's first.
                let dataStart = dataDeviceOffset
                if let hit = named.offset, let e = c.entries[entriesBefore...].last(where: { dataStart + $0.position % capacity <= hit }) {
                    named.sequence = e.sequence
                }
                throw named
            }
        }
        func add(_ source: UnsafeRawPointer, _ n: Int) {
            guard n > 0 else { return }
            if runPieces > used, let s = pieces[runPieces - 1].source, s + pieces[runPieces - 1].count == source {
                pieces[runPieces - 1].count += n
            } else {
                (pieces + runPieces).initialize(to: GatherPiece(source, n))
                runPieces += 1
            }
        }
        var cursor = LogCursor(position: c.tail, capacity: capacity)
        for i in 0..<count {
            let sequence = first + UInt64(i)
            let n = lengths[i], size = LogLayout.recordSize(n)
            let place = cursor.place(size)
            let at = LogLayout.headerArea + Int(place.areaOffset)
            if place.pad != nil || runAt + runBytes != at || injector != nil {
                try storeRun(&c)
                run = i
                runAt = at
                runBytes = 0
            }
            if let pad = place.pad {
                // Its span is inside the append's positions, which the commit persists whole.
                var spans = PersistSpans()
                try storePad(&c, m, areaOffset: pad.areaOffset, index: i, sequence: sequence, spans: &spans, operation: "append")
            }
            c.entries.append(.init(sequence: sequence, position: place.position, size: size))
            let h = UnsafeRawPointer(heads[i]!)
            if UnsafeRawPointer(payloads[i]) != h + LogLayout.recordHeader {
                add(h, LogLayout.recordHeader)
                add(payloads[i]!, n)
                add(zeros, size - LogLayout.recordHeader - n)
            } else {
                add(h, size)
            }
            runBytes += size
            if let injector {
                // The hook's path (tests): the record alone and contiguous, as the hook acts on it.
                let action = injector(.recordStore(index: i))
                var bytes = [UInt8](repeating: 0, count: size)
                var k = 0
                for p in UnsafeBufferPointer(start: pieces + used, count: runPieces - used) {
                    bytes.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: k).copyMemory(from: p.source!, byteCount: p.count) }
                    k += p.count
                }
                used = runPieces
                runBytes = 0
                runAt = at + size
                try withBytes(bytes) { (b: UnsafeRawBufferPointer) throws(DaxLogError) in
                    try store(&c, m, action, b, at: at, operation: "append", sequence: sequence)
                }
            }
        }
        try storeRun(&c)
    }

    /// Makes every stored record persistent up to the append's end: one
    /// persist at a time; an appender that finds its records covered by the
    /// persist it waited for returns at once, else it persists everything
    /// stored so far (its own records and those of every appender behind it).
    func commit(_ s: StoredAppend) throws(DaxLogError) {
        let timed = metrics.enabled
        let persistNanoseconds = try commitLock.withLock { (_: inout Void) throws(DaxLogError) -> UInt64 in
            let plan = try core.withLock { (c: inout LogCore) throws(DaxLogError) -> (from: UInt64, to: UInt64, next: UInt64)? in
                guard c.attachment == s.attachment else {
                    throw DaxLogError(.failed, operation: "append", path: c.device.path, sequence: s.sequences.lowerBound,
                                      message: "the log was reattached before the record was persistent: it is not acknowledged; the reattach's recovery says whether it is there")
                }
                if c.durableTail >= s.end { return nil }
                if let failure = c.commitFailure { throw failure }
                if c.state != .open || !s.mapping.isUsable { _ = try writable(&c, "append") }
                return (c.durableTail, c.tail, c.next)
            }
            guard let plan else { return 0 }
            let start = timed ? LogMetrics.now() : 0
            do throws(DaxError) {
                try positionSpans(plan.from, plan.to) { (at: Int, n: Int) throws(DaxError) in try s.mapping.persist(at: at, count: n) }
            } catch {
                throw core.withLock { c in commitFailed(&c, s, error) }
            }
            core.withLock { c in
                if c.attachment == s.attachment, plan.to > c.durableTail {
                    c.durableTail = plan.to
                    c.durableNext = plan.next
                }
            }
            return timed ? LogMetrics.now() &- start : 0
        }
        if timed { metrics.appended(records: s.sequences.count, bytes: s.payloadBytes, persistNanoseconds: persistNanoseconds) }
    }

    /// A group's persist failed: no record after the durable tail is
    /// acknowledged (every appender waiting on them throws this error); the
    /// log fails until a reattach, as after a failed store.
    private func commitFailed(_ c: inout LogCore, _ s: StoredAppend, _ error: DaxError) -> DaxLogError {
        guard c.attachment == s.attachment else {
            return DaxLogError(.failed, operation: "append", path: c.device.path, underlying: error,
                               message: "the persist failed after the log was reattached")
        }
        if let failure = c.commitFailure { return failure }
        let e = failed(&c, "append", error, sequence: c.durableNext)
        c.entries.removeAll { $0.sequence >= c.durableNext }
        c.tail = c.durableTail
        c.next = c.durableNext
        let l = learned(&c, s.mapping, e)
        c.commitFailure = l
        appendFailed(l)
        return l
    }

    /// Before a close or a seal releases the mapping: persists what appenders
    /// stored and wait to commit (a failure leaves them unacknowledged: they throw).
    func persistPending(_ c: inout LogCore) {
        guard c.state == .open, c.durableTail < c.tail, let m = c.mapping, m.isUsable else { return }
        do throws(DaxError) {
            try positionSpans(c.durableTail, c.tail) { (at: Int, n: Int) throws(DaxError) in try m.persist(at: at, count: n) }
            c.durableTail = c.tail
            c.durableNext = c.next
        } catch {}
    }
}
