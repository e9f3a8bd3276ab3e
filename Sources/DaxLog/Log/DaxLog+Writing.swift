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
    func writable(_ c: inout LogCore, _ operation: String) throws(DaxLogError) -> DaxMapping {
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

    /// A store or persist of an append failed: counted (`daxlog_append_failures_total`) and logged.
    func appendFailed(_ error: DaxLogError) {
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
            .records(c.entries, from: from, below: c.durableNext, lost: c.lost)
        for s in read.unreadable { c.addLost(s..<(s + 1)) }
        LogWarnings.lost(read.unreadable.map { $0..<($0 + 1) }, path: c.device.path, cause: "read")
        if !read.unreadable.isEmpty { recordLoss(&c, m) }
        return read.records
    }
}
