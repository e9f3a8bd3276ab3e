internal import CDaxLog
import DaxMap

/// The append path: records are stored straight from the caller's buffers
/// into the mapping under the log's lock (checksummed from those buffers,
/// three records at a time), then made persistent by a group commit outside
/// it, so appenders on other threads store while one persist runs and the
/// next persist covers all of them.
extension DaxLog {
    /// Appends records with the payloads `buffers` (all or nothing); returns
    /// their sequence numbers once a persist covers them.
    ///
    /// Group commit: the appender queues its records, then waits for the
    /// commit lock. Whoever holds it (the leader) stores every queued
    /// append as one batch of the format — the records' batch fields span the
    /// group, so recovery tells a group the power cut short from a corrupted
    /// record exactly as for one append — persists it once, and hands each
    /// appender its numbers. An appender whose records a leader took returns
    /// when that leader is done: it waited at most for the persist in flight
    /// when it queued, and the one covering it.
    func appendRecords(_ buffers: UnsafeBufferPointer<UnsafeRawBufferPointer>) throws(DaxLogError) -> Range<UInt64> {
        guard buffers.count > 0 else {
            throw DaxLogError(.invalidArgument, operation: "append", message: "an empty batch")
        }
        var pending = PendingAppend(buffers: buffers)
        return try withUnsafeMutablePointer(to: &pending) { (p: UnsafeMutablePointer<PendingAppend>) throws(DaxLogError) -> Range<UInt64> in
            let me = PendingPointer(p)
            queue.withLock { $0.append(me) }
            commitLock.withLock { group in
                // Taken by the leader before: done, its result is there.
                guard !p.pointee.done else { return }
                // Swapped, not copied: both arrays keep their storage (no allocation an append).
                queue.withLock { swap(&group, &$0) }
                lead(group)
                group.removeAll(keepingCapacity: true)
            }
            if let error = p.pointee.error { throw error }
            return p.pointee.sequences!
        }
    }

    /// Stores and persists a group (under the commit lock) and sets each appender's result.
    private func lead(_ group: [PendingPointer]) {
        if group.count == 1 { return alone(group[0]) }
        let total = group.reduce(0) { $0 + $1.pointer.pointee.buffers.count }
        withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer.self, capacity: total) { flat in
            var k = 0
            for g in group {
                for b in g.pointer.pointee.buffers {
                    flat.initializeElement(at: k, to: b)
                    k += 1
                }
            }
            do throws(DaxLogError) {
                var next = try storeAndPersist(BufferPayloads(buffers: UnsafeBufferPointer(flat))).lowerBound
                for g in group {
                    let n = UInt64(g.pointer.pointee.buffers.count)
                    g.pointer.pointee.sequences = next..<(next + n)
                    next += n
                }
            } catch where error.code == .full || error.code == .invalidArgument {
                // Refused before anything was stored: one append's record too
                // large, or the group too large for the free space. Each alone.
                for g in group { alone(g) }
            } catch {
                for g in group { g.pointer.pointee.error = error }
            }
        }
    }

    private func alone(_ g: PendingPointer) {
        do throws(DaxLogError) {
            g.pointer.pointee.sequences = try storeAndPersist(BufferPayloads(buffers: g.pointer.pointee.buffers))
        } catch {
            g.pointer.pointee.error = error
        }
    }

    /// Stores and persists the records under the log's lock (only leaders
    /// append, so the lock adds no wait to a group; one lock, one persist).
    private func storeAndPersist<S: RecordPayloads>(_ sources: S) throws(DaxLogError) -> Range<UInt64> {
        try core.withLock { (c: inout LogCore) throws(DaxLogError) -> Range<UInt64> in try storeLocked(&c, sources) }
    }

    /// Checks, reserves, stores and persists the records.
    private func storeLocked<S: RecordPayloads>(_ c: inout LogCore, _ sources: S) throws(DaxLogError) -> Range<UInt64> {
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
        let entriesBefore = c.entries.count, start = c.tail
        // The test hook, read once per batch: nil in production.
        let injector = c.injector
        do {
            try storeRecords(&c, m, sources, first: first, injector: injector, entriesBefore: entriesBefore)
            var spans = PersistSpans()
            positionSpans(start, tail) { spans.add(at: $0, size: $1) }
            let persistStart = metrics.enabled ? LogMetrics.now() : 0
            try persist(&c, m, .recordPersist, spans: spans, operation: "append", sequence: first)
            if metrics.enabled {
                metrics.appended(records: count, bytes: payloadBytes, persistNanoseconds: LogMetrics.now() &- persistStart)
            }
        } catch {
            c.entries.removeSubrange(entriesBefore...)
            let failed = learned(&c, m, error)
            appendFailed(failed)
            throw failed
        }
        c.tail = tail
        c.next = first + UInt64(count)
        c.durableTail = tail
        c.durableNext = c.next
        return first..<c.next
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
        do {
            let base = c.scratch.bytes(bytes)
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

    /// Before a close or a seal releases the mapping (under the commit lock,
    /// so no group is between its store and its persist): persists anything
    /// stored and not yet persistent. Nothing, normally; kept for safety.
    func persistPending(_ c: inout LogCore) {
        guard c.state == .open, c.durableTail < c.tail, let m = c.mapping, m.isUsable else { return }
        do throws(DaxError) {
            try positionSpans(c.durableTail, c.tail) { (at: Int, n: Int) throws(DaxError) in try m.persist(at: at, count: n) }
            c.durableTail = c.tail
            c.durableNext = c.next
        } catch {}
    }
}
