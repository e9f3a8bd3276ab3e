import DaxMap

extension DaxLog {
    /// Device offset of the data area's first byte.
    var dataDeviceOffset: UInt64 { offset + UInt64(LogLayout.headerArea) }

    // MARK: - Attach: map, header, scan

    func attach(_ c: inout LogCore, device: DaxDevice, operation: String, creation: Options.Creation) throws(DaxLogError) {
        var mappingOptions = options.mapping
        mappingOptions.readOnly = mappingOptions.readOnly || options.readOnly
        // Owned before anything is read or written: a second writer is refused untouched.
        try claimRegion(&c, device, operation: operation)
        let m: DaxMapping
        do { m = try device.map(offset: offset, length: length, holder: self, options: mappingOptions) } catch {
            releaseRegion(&c)
            throw DaxLogError(.device, operation: operation, path: device.path, offset: offset, underlying: error,
                              message: "cannot map the log region [\(offset), \(offset + length))")
        }
        let previous: (next: UInt64, lost: [Range<UInt64>], generation: UInt64)? =
            c.header.generation != 0 ? (c.next, c.lost, c.header.generation) : nil
        c.device = device
        c.mapping = m
        do {
            try attachMapped(&c, m, operation: operation, creation: creation, previous: previous)
        } catch {
            m.close()
            c.mapping = nil
            c.state = .failed
            releaseRegion(&c)
            throw error
        }
    }

    private func attachMapped(_ c: inout LogCore, _ m: DaxMapping, operation: String, creation: Options.Creation,
                              previous: (next: UInt64, lost: [Range<UInt64>], generation: UInt64)?) throws(DaxLogError) {
        let path = c.device.path
        var area = [UInt8](repeating: 0, count: LogLayout.headerArea)
        do {
            try withMutableBytes(&area) { (b: UnsafeMutableRawBufferPointer) throws(DaxError) in try m.read(at: 0, into: b) }
        } catch {
            throw DaxLogError(.device, operation: operation, path: path, offset: offset, underlying: error,
                              message: "cannot read the log header")
        }
        let chosen = try withBytes(area) { (b: UnsafeRawBufferPointer) throws(DaxLogError) -> LogHeader? in
            try LogHeader.choose(in: b, capacity: UInt64(capacity), creation: creation, operation: operation, path: path, offset: offset)
        }
        let header: LogHeader
        if let chosen { header = chosen } else { header = try format(&c, m, operation: operation) }
        if let previous, header.generation != previous.generation {
            throw DaxLogError(.notALog, operation: operation, path: path, offset: offset,
                              message: "a different log is in the region now (generation \(header.generation), was \(previous.generation))")
        }
        c.header = header
        let result = LogScanner(medium: m, header: header, dataDeviceOffset: dataDeviceOffset).scan()
        c.entries = result.entries
        c.tail = result.tail
        c.next = result.next
        c.lost = []
        for r in result.lost { c.addLost(r) }
        c.state = .open
        if !result.stale.isEmpty && !options.readOnly { try eraseStale(&c, m, result.stale, operation: operation) }
        if let previous {
            for r in previous.lost { c.addLost(r.clamped(to: header.headSequence..<UInt64.max)) }
            if previous.next > c.next {
                // Acknowledged once, not found again: lost, and said so on the media.
                c.addLost(c.next..<previous.next)
                if !options.readOnly && c.state == .open { try writeGap(&c, m, resume: previous.next, operation: operation) }
                c.next = previous.next
            }
        }
        c.recovery = DaxLogRecovery(firstSequence: header.headSequence, nextSequence: c.next,
                                    recordCount: c.entries.count, lost: c.lost, failedRanges: result.failed,
                                    stop: result.stop, corrupted: result.corrupted)
    }

    /// Erases the record headers of an append the power cut short, the last
    /// first and the torn one last, each persisted before the next: a power
    /// failure in between leaves a shorter chain that the next recovery finds
    /// (and erases) again, never a record a later append could line up with.
    private func eraseStale(_ c: inout LogCore, _ m: DaxMapping, _ positions: [UInt64], operation: String) throws(DaxLogError) {
        let zeros = [UInt8](repeating: 0, count: LogLayout.recordHeader)
        let capacity = UInt64(self.capacity)
        for position in positions.reversed() {
            let at = LogLayout.headerArea + Int(position % capacity)
            try withBytes(zeros) { (b: UnsafeRawBufferPointer) throws(DaxLogError) in
                try store(&c, m, .recordStore(index: 0), b, at: at, operation: operation, sequence: nil)
            }
            try persist(&c, m, .recordPersist, spans: PersistSpans(at..<(at + LogLayout.recordHeader)), operation: operation, sequence: nil)
        }
    }

    private func format(_ c: inout LogCore, _ m: DaxMapping, operation: String) throws(DaxLogError) -> LogHeader {
        guard !options.readOnly else {
            throw DaxLogError(.readOnly, operation: operation, path: c.device.path, offset: offset,
                              message: "no log here, and a read-only open cannot make one")
        }
        var generation: UInt64 = 0
        while generation == 0 { generation = UInt64.random(in: 1...UInt64.max) }
        let header = LogHeader(generation: generation, epoch: 1, capacity: UInt64(capacity), headSequence: 0, headPosition: 0)
        // The other slot first: an old header there must not outrank the new one.
        let zero = [UInt8](repeating: 0, count: LogLayout.slotSize)
        try storeHeader(&c, m, bytes: zero, slot: 1 - header.slot, operation: operation)
        try storeHeader(&c, m, bytes: header.encoded(), slot: header.slot, operation: operation)
        return header
    }

    // MARK: - Stores, with the injection points

    private func injected(_ c: inout LogCore, _ point: StorePoint) -> StoreAction {
        c.injector?(point) ?? .proceed
    }

    private func failed(_ c: inout LogCore, _ operation: String, _ error: DaxError, sequence: UInt64? = nil) -> DaxLogError {
        c.state = .failed
        return DaxLogError(.failed, operation: operation, path: c.device.path, offset: error.offset, sequence: sequence,
                           underlying: error, message: "the store failed; nothing after the last acknowledged record is acknowledged; reattach to recover")
    }

    private func crashed(_ c: inout LogCore, _ operation: String) -> DaxLogError {
        c.state = .failed
        return DaxLogError(.failed, operation: operation, path: c.device.path, message: "injected crash (test)")
    }

    /// Stores `bytes` at mapping offset `at` (not yet persistent).
    private func store(_ c: inout LogCore, _ m: DaxMapping, _ point: StorePoint, _ bytes: UnsafeRawBufferPointer, at: Int,
                       operation: String, sequence: UInt64?) throws(DaxLogError) {
        try store(&c, m, injected(&c, point), bytes, at: at, operation: operation, sequence: sequence)
    }

    /// Stores `bytes` at mapping offset `at` as an injected `action` says
    /// (`.proceed`: all of them; the other actions are tests' failures).
    private func store(_ c: inout LogCore, _ m: DaxMapping, _ action: StoreAction, _ bytes: UnsafeRawBufferPointer, at: Int,
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

    private func persist(_ c: inout LogCore, _ m: DaxMapping, _ point: StorePoint, spans: PersistSpans,
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

    private func storeHeader(_ c: inout LogCore, _ m: DaxMapping, bytes: [UInt8], slot: Int, operation: String) throws(DaxLogError) {
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
    private func endOfRecords(_ c: inout LogCore, count: Int, size: (Int) -> Int, operation: String) throws(DaxLogError) -> UInt64 {
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
    private func storePad(_ c: inout LogCore, _ m: DaxMapping, areaOffset: UInt64, index: Int, sequence: UInt64,
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
                let action = injected(&c, .recordStore(index: i))
                if action != .proceed { try storeRun(&c) }
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
                if action != .proceed {
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
            throw error
        }
        let persistStart = metrics.enabled ? LogMetrics.now() : 0
        do {
            try persist(&c, m, .recordPersist, spans: spans, operation: "append", sequence: first)
        } catch {
            c.entries.removeSubrange(entriesBefore...)
            metrics.failed()
            throw error
        }
        if metrics.enabled {
            metrics.appended(records: count, bytes: payloadBytes, persistNanoseconds: LogMetrics.now() &- persistStart)
        }
        c.tail = tail
        c.next = first + UInt64(count)
        return first..<c.next
    }

    /// A gap record at the tail: the numbers from `c.next` to `resume` are lost.
    private func writeGap(_ c: inout LogCore, _ m: DaxMapping, resume: UInt64, operation: String) throws(DaxLogError) {
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
            record.withUnsafeMutableBytes { LogLayout.encode(type: LogLayout.typeGap, sequence: sequence, bytes: p, generation: generation, into: $0) }
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
        return read.records
    }

    // MARK: - Failures

    /// Marks lost every record overlapping `deviceRange`.
    func markLost(_ c: inout LogCore, deviceRange: Range<UInt64>) {
        let capacity = UInt64(self.capacity)
        let base = dataDeviceOffset
        for e in c.entries {
            let start = base + e.position % capacity
            if start < deviceRange.upperBound && deviceRange.lowerBound < start + UInt64(e.size) {
                c.addLost(e.sequence..<(e.sequence + 1))
            }
        }
    }
}
