import DaxMap

extension DaxLog {
    /// Device offset of the data area's first byte.
    var dataDeviceOffset: UInt64 { offset + UInt64(LogLayout.headerArea) }

    // MARK: - Stores, with the injection points

    private func injected(_ c: inout LogCore, _ point: StorePoint) -> StoreAction {
        c.injector?(point) ?? .proceed
    }

    func failed(_ c: inout LogCore, _ operation: String, _ error: DaxError, sequence: UInt64? = nil) -> DaxLogError {
        c.state = .failed
        return DaxLogError(.failed, operation: operation, path: c.device.path, offset: error.offset, sequence: sequence,
                           underlying: error, message: "the store failed; nothing after the last acknowledged record is acknowledged; reattach to recover")
    }

    private func crashed(_ c: inout LogCore, _ operation: String) -> DaxLogError {
        c.state = .failed
        return DaxLogError(.failed, operation: operation, path: c.device.path, message: "injected crash (test)")
    }

    /// Stores `bytes` at mapping offset `at` (not yet persistent).
    func store(_ c: inout LogCore, _ m: DaxMapping, _ point: StorePoint, _ bytes: UnsafeRawBufferPointer, at: Int,
                       operation: String, sequence: UInt64?) throws(DaxLogError) {
        try store(&c, m, injected(&c, point), bytes, at: at, operation: operation, sequence: sequence)
    }

    /// Stores `bytes` at mapping offset `at` as an injected `action` says
    /// (`.proceed`: all of them; the other actions are tests' failures).
    func store(_ c: inout LogCore, _ m: DaxMapping, _ action: StoreAction, _ bytes: UnsafeRawBufferPointer, at: Int,
                       operation: String, sequence: UInt64?) throws(DaxLogError) {
        switch action {
        case .proceed:
            do { try m.write(bytes, at: at, persist: false) } catch { throw failed(&c, operation, error, sequence: sequence) }
        case .fault:
            throw failed(&c, operation, DaxError(.mediaFailure, operation: "write", path: c.device.path,
                                                 offset: offset + UInt64(at), message: "injected media failure (test)"), sequence: sequence)
        case .tear(let n):
            try? m.write(UnsafeRawBufferPointer(rebasing: bytes[0..<min(max(n, 0), bytes.count)]), at: at, persist: false)
            throw crashed(&c, operation)
        case .kill:
            throw crashed(&c, operation)
        }
    }

    func persist(_ c: inout LogCore, _ m: DaxMapping, _ point: StorePoint, spans: PersistSpans,
                         operation: String, sequence: UInt64?) throws(DaxLogError) {
        switch injected(&c, point) {
        case .proceed:
            do throws(DaxError) {
                try spans.forEach { (s: Range<Int>) throws(DaxError) in
                    if !s.isEmpty { try m.persist(at: s.lowerBound, count: s.count) }
                }
            } catch { throw failed(&c, operation, error, sequence: sequence) }
        case .fault:
            throw failed(&c, operation, DaxError(.mediaFailure, operation: "persist", path: c.device.path,
                                                 message: "injected media failure (test)"), sequence: sequence)
        case .tear, .kill:
            throw crashed(&c, operation)
        }
    }

    func storeHeader(_ c: inout LogCore, _ m: DaxMapping, bytes: [UInt8], slot: Int, operation: String) throws(DaxLogError) {
        let at = LogLayout.slotOffsets[slot]
        try withBytes(bytes) { (b: UnsafeRawBufferPointer) throws(DaxLogError) in
            try store(&c, m, .headerStore, b, at: at, operation: operation, sequence: nil)
        }
        try persist(&c, m, .headerPersist, spans: PersistSpans(at..<(at + LogLayout.slotSize)), operation: operation, sequence: nil)
    }

    // inout: a LogCore passed by value is copied here (every array in it retained), ~0.2 µs an append.
    private func writable(_ c: inout LogCore, _ operation: String) throws(DaxLogError) -> DaxMapping {
        if c.state == .open, !options.readOnly, let m = c.mapping, m.isUsable { return m }
        let path = c.device.path
        if options.readOnly {
            throw DaxLogError(.readOnly, operation: operation, path: path, message: "the log was opened read-only")
        }
        switch c.state {
        case .open: break
        case .sealed:
            throw DaxLogError(.sealed, operation: operation, path: path, sequence: c.next,
                              message: "the log is sealed: the device is being removed; reattach once it is back")
        case .failed:
            throw DaxLogError(.failed, operation: operation, path: path, sequence: c.next,
                              message: "an earlier store failed (or recovery found a corrupted record); reattach to recover")
        case .closed:
            throw DaxLogError(.closed, operation: operation, path: path, message: "the log is closed")
        }
        guard let m = c.mapping, m.isUsable else {
            throw DaxLogError(.sealed, operation: operation, path: path, message: "the log's mapping was released")
        }
        return m
    }

    // MARK: - Append

    /// The logical tail after `count` records of `size(i)` bytes from the
    /// current tail; throws `.full` when they do not fit, before anything is stored.
    func endOfRecords(_ c: inout LogCore, count: Int, size: (Int) -> Int, operation: String) throws(DaxLogError) -> UInt64 {
        let capacity = UInt64(self.capacity)
        var cursor = LogCursor(position: c.tail, capacity: capacity)
        for i in 0..<count { _ = cursor.place(size(i)) }
        let position = cursor.position
        guard position - c.header.headPosition <= capacity else {
            throw DaxLogError(.full, operation: operation, path: c.device.path, sequence: c.next,
                              message: "the log is full: \(position - c.tail) bytes needed, \(capacity - (c.tail - c.header.headPosition)) free of \(capacity); discard records first")
        }
        return position
    }

    /// Stores a pad record at data-area offset `areaOffset` (it fills to the end of the data area).
    func storePad(_ c: inout LogCore, _ m: DaxMapping, areaOffset: UInt64, index: Int, sequence: UInt64,
                          spans: inout PersistSpans, operation: String) throws(DaxLogError) {
        let room = Int(UInt64(capacity) - areaOffset)
        var bytes = [UInt8](repeating: 0, count: LogLayout.recordHeader)
        let generation = c.header.generation
        bytes.withUnsafeMutableBytes {
            LogLayout.encode(type: LogLayout.typePad, sequence: sequence, bytes: UnsafeRawBufferPointer(start: nil, count: 0),
                             generation: generation, into: $0)
        }
        let at = LogLayout.headerArea + Int(areaOffset)
        try withBytes(bytes) { (b: UnsafeRawBufferPointer) throws(DaxLogError) in
            try store(&c, m, .recordStore(index: index), b, at: at, operation: operation, sequence: sequence)
        }
        spans.add(at: at, size: min(room, LogLayout.recordHeader))
    }

    /// Stores `lengths.count` records (record `i` has `lengths[i]` payload bytes, which
    /// `encode` writes with its header), persists them all at once, and
    /// returns their sequence numbers. Allocates nothing for a single record
    /// once the staging buffer has grown (the append path of every log).
    func appendLocked(_ c: inout LogCore, lengths: UnsafeBufferPointer<Int>,
                      encode: (Int, UInt64, UInt64, UnsafeMutableRawBufferPointer) -> Void) throws(DaxLogError) -> Range<UInt64> {
        let m = try writable(&c, "append")
        let limit = maximumRecordSize
        let count = lengths.count
        var payloadBytes = 0
        for i in 0..<count {
            let n = lengths[i]
            if n > limit {
                throw DaxLogError(.invalidArgument, operation: "append", path: c.device.path,
                                  message: "record \(i) of the batch has \(n) bytes; at most \(limit) fit this log")
            }
            payloadBytes += n
        }
        func size(_ i: Int) -> Int { LogLayout.recordSize(lengths[i]) }
        let tail = try endOfRecords(&c, count: count, size: size, operation: "append")
        let capacity = UInt64(self.capacity)
        let first = c.next
        // One header persist per `leaseStep` numbers, before any of them is acknowledged.
        if first + UInt64(count) > c.header.lease { try extendLease(&c, m, past: first + UInt64(count)) }
        var spans = PersistSpans()
        // Taken out of the core so it is uniquely referenced: encoding into a
        // shared copy would copy the whole buffer (copy-on-write) every append.
        var staging = c.staging
        c.staging = []
        defer { c.staging = staging }
        let want = min(Int(tail - c.tail), LogLayout.stagingRun)
        if staging.count < want { staging = [UInt8](repeating: 0, count: max(want, 4096)) }
        // Records are encoded back to back into the staging buffer and stored
        // in runs, one guarded copy for as many records as are contiguous on
        // the device (a run ends at a pad, at the end of the buffer, or at a
        // test's injected failure, which acts on its record alone, as before).
        // The entries are added as records are encoded, and taken back if any
        // store or the persist fails.
        let entriesBefore = c.entries.count
        // The test hook, read once per batch: nil in production, and then no record asks again.
        let injector = c.injector
        var run = 0, runAt = 0, runFirst = first
        func storeRun(_ c: inout LogCore) throws(DaxLogError) {
            guard run > 0 else { return }
            let at = runAt, n = run, sequence = runFirst
            run = 0
            do {
                try withBytes(staging) { (b: UnsafeRawBufferPointer) throws(DaxLogError) in
                    try store(&c, m, .proceed, UnsafeRawBufferPointer(rebasing: b[0..<n]), at: at, operation: "append", sequence: sequence)
                }
            } catch {
                // Name the record the fault hit, not the run's first.
                var named = error
                let dataStart = dataDeviceOffset
                if let hit = error.offset, let e = c.entries[entriesBefore...].last(where: { dataStart + $0.position % capacity <= hit }) {
                    named.sequence = e.sequence
                }
                throw named
            }
        }
        do {
            var cursor = LogCursor(position: c.tail, capacity: capacity)
            for i in 0..<count {
                let sequence = first + UInt64(i)
                let n = size(i)
                let place = cursor.place(n)
                let at = LogLayout.headerArea + Int(place.areaOffset)
                if place.pad != nil || runAt + run != at || run + n > staging.count { try storeRun(&c) }
                if let pad = place.pad {
                    try storePad(&c, m, areaOffset: pad.areaOffset, index: i, sequence: sequence, spans: &spans, operation: "append")
                }
                // The record's point comes after its pad's, as when each record was stored alone.
                var action = StoreAction.proceed
                if let injector {
                    action = injector(.recordStore(index: i))
                    if action != .proceed { try storeRun(&c) }
                }
                if run == 0 {
                    runAt = at
                    runFirst = sequence
                    if staging.count < n { staging = [UInt8](repeating: 0, count: n) }
                }
                let generation = c.header.generation, from = run
                staging.withUnsafeMutableBytes { encode(i, sequence, generation, UnsafeMutableRawBufferPointer(rebasing: $0[from..<(from + n)])) }
                run += n
                c.entries.append(.init(sequence: sequence, position: place.position, size: n))
                spans.add(at: at, size: n)
                if case .proceed = action {} else {
                    run = 0
                    try withBytes(staging) { (b: UnsafeRawBufferPointer) throws(DaxLogError) in
                        try store(&c, m, action, UnsafeRawBufferPointer(rebasing: b[from..<(from + n)]), at: at,
                                  operation: "append", sequence: sequence)
                    }
                }
            }
            try storeRun(&c)
        } catch {
            c.entries.removeSubrange(entriesBefore...)
            let failed = learned(&c, m, error)
            appendFailed(failed)
            throw failed
        }
        let persistStart = metrics.enabled ? LogMetrics.now() : 0
        do {
            try persist(&c, m, .recordPersist, spans: spans, operation: "append", sequence: first)
        } catch {
            c.entries.removeSubrange(entriesBefore...)
            let failed = learned(&c, m, error)
            appendFailed(failed)
            throw failed
        }
        if metrics.enabled {
            metrics.appended(records: count, bytes: payloadBytes, persistNanoseconds: LogMetrics.now() &- persistStart)
        }
        c.tail = tail
        c.next = first + UInt64(count)
        return first..<c.next
    }

    /// A store or persist of an append failed: counted (`daxlog_append_failures_total`) and logged.
    private func appendFailed(_ error: DaxLogError) {
        metrics.failed()
        LogWarnings.appendFailed(error)
    }

    /// A gap record at the tail: the numbers from `c.next` to `resume` are
    /// lost (`typeGap`) or skipped (`typeSkip`, see ``DaxLogRecovery/unaccounted``).
    func writeGap(_ c: inout LogCore, _ m: DaxMapping, type: UInt32 = LogLayout.typeGap, resume: UInt64,
                  operation: String) throws(DaxLogError) {
        var payload = resume.littleEndian
        let size = LogLayout.recordSize(8)
        let tail = try endOfRecords(&c, count: 1, size: { _ in size }, operation: operation)
        let capacity = UInt64(self.capacity)
        var spans = PersistSpans()
        let sequence = c.next, generation = c.header.generation
        var cursor = LogCursor(position: c.tail, capacity: capacity)
        let place = cursor.place(size)
        if let pad = place.pad { try storePad(&c, m, areaOffset: pad.areaOffset, index: 0, sequence: sequence, spans: &spans, operation: operation) }
        var record = [UInt8](repeating: 0, count: size)
        withUnsafeBytes(of: &payload) { p in
            record.withUnsafeMutableBytes { LogLayout.encode(type: type, sequence: sequence, bytes: p, generation: generation, into: $0) }
        }
        let at = LogLayout.headerArea + Int(place.areaOffset)
        try withBytes(record) { (b: UnsafeRawBufferPointer) throws(DaxLogError) in
            try store(&c, m, .recordStore(index: 0), b, at: at, operation: operation, sequence: sequence)
        }
        spans.add(at: at, size: size)
        try persist(&c, m, .recordPersist, spans: spans, operation: operation, sequence: sequence)
        c.tail = tail
    }

    // MARK: - Discard

    func discardLocked(_ c: inout LogCore, upTo sequence: UInt64) throws(DaxLogError) {
        let m = try writable(&c, "discard")
        guard sequence <= c.next else {
            throw DaxLogError(.invalidArgument, operation: "discard", path: c.device.path, sequence: sequence,
                              message: "cannot discard past the next sequence number \(c.next)")
        }
        guard sequence > c.header.headSequence else { return }
        let keep = c.entries.firstIndex { $0.sequence >= sequence } ?? c.entries.count
        var header = c.header
        header.epoch += 1
        if keep < c.entries.count {
            header.headSequence = c.entries[keep].sequence == sequence || sequence == c.next ? sequence : c.entries[keep].sequence
            header.headPosition = c.entries[keep].position
            // Numbers from `sequence` to the kept record were lost: the head moves to the record.
            header.headSequence = c.entries[keep].sequence
        } else {
            header.headSequence = c.next
            header.headPosition = c.tail
        }
        try storeHeader(&c, m, bytes: header.encoded(), slot: header.slot, operation: "discard")
        c.header = header
        c.entries.removeFirst(keep)
        c.lost = c.lost.compactMap { r in
            let k = r.clamped(to: header.headSequence..<UInt64.max)
            return k.isEmpty ? nil : k
        }
    }

    // MARK: - Read

    func readLocked(_ c: inout LogCore, from: UInt64, operation: String) throws(DaxLogError) -> [DaxLogRecord] {
        guard let m = c.mapping, m.isUsable else {
            throw DaxLogError(c.state == .closed ? .closed : .sealed, operation: operation, path: c.device.path,
                              message: "the log's mapping is released (\(c.state)); reattach first")
        }
        let read = LogRecordReader(medium: m, generation: c.header.generation, capacity: UInt64(capacity))
            .records(c.entries, from: from, lost: c.lost)
        for s in read.unreadable { c.addLost(s..<(s + 1)) }
        LogWarnings.lost(read.unreadable.map { $0..<($0 + 1) }, path: c.device.path, cause: "read")
        if !read.unreadable.isEmpty { recordLoss(&c, m) }
        return read.records
    }
}
