import DaxMap

extension DaxLog {
    /// Device offset of the data area's first byte.
    var dataDeviceOffset: UInt64 { offset + UInt64(LogLayout.headerArea) }

    // MARK: - Attach: map, header, scan

    func attach(_ c: inout LogCore, device: DaxDevice, operation: String, creation: Options.Creation) throws(DaxLogError) {
        var mappingOptions = options.mapping
        mappingOptions.readOnly = mappingOptions.readOnly || options.readOnly
        let m: DaxMapping
        do { m = try device.map(offset: offset, length: length, holder: self, options: mappingOptions) } catch {
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
        let slots = LogLayout.slotOffsets.map { at in
            area.withUnsafeBytes { LogHeader.decode(UnsafeRawBufferPointer(rebasing: $0[at..<(at + LogLayout.slotSize)])) }
        }
        var valid: [LogHeader] = []
        var blank = true, looksOurs = false
        for s in slots {
            switch s {
            case .valid(let h): valid.append(h); blank = false
            case .blank: break
            case .invalid: blank = false
            }
        }
        looksOurs = area.withUnsafeBytes { b in
            LogLayout.slotOffsets.contains { UInt64(littleEndian: b.loadUnaligned(fromByteOffset: $0, as: UInt64.self)) == LogLayout.magic }
        }
        let capacity = UInt64(self.capacity)
        var header: LogHeader
        if creation == .overwrite || (blank && creation == .ifBlank) {
            header = try format(&c, m, operation: operation)
        } else if let newest = valid.max(by: { $0.epoch < $1.epoch }) {
            guard newest.capacity == capacity else {
                throw DaxLogError(.invalidArgument, operation: operation, path: path, offset: offset,
                                  message: "the log there has a data area of \(newest.capacity) bytes, this region \(capacity): open it with the length it was made with")
            }
            header = newest
        } else if blank {
            throw DaxLogError(.notALog, operation: operation, path: path, offset: offset,
                              message: "the region holds no log (its header is all zeros) and creating one was not allowed")
        } else if looksOurs {
            throw DaxLogError(.corruptHeader, operation: operation, path: path, offset: offset,
                              message: "both log headers fail their checksum; the log cannot be opened safely")
        } else {
            throw DaxLogError(.notALog, operation: operation, path: path, offset: offset,
                              message: "the region holds something other than a log; it was left untouched (open with creation .overwrite to replace it)")
        }
        if let previous, header.generation != previous.generation {
            throw DaxLogError(.notALog, operation: operation, path: path, offset: offset,
                              message: "a different log is in the region now (generation \(header.generation), was \(previous.generation))")
        }
        c.header = header
        let result = LogScanner(mapping: m, header: header, dataDeviceOffset: dataDeviceOffset).scan()
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
            try persist(&c, m, .recordPersist, spans: [at..<(at + LogLayout.recordHeader)], operation: operation, sequence: nil)
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
        switch injected(&c, point) {
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

    private func persist(_ c: inout LogCore, _ m: DaxMapping, _ point: StorePoint, spans: [Range<Int>],
                         operation: String, sequence: UInt64?) throws(DaxLogError) {
        switch injected(&c, point) {
        case .proceed:
            do {
                for s in spans where !s.isEmpty { try m.persist(at: s.lowerBound, count: s.count) }
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
        try persist(&c, m, .headerPersist, spans: [at..<(at + LogLayout.slotSize)], operation: operation, sequence: nil)
    }

    private func writable(_ c: LogCore, _ operation: String) throws(DaxLogError) -> DaxMapping {
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

    /// Where records of `sizes` go from `tail`: their positions, pads to
    /// write first (where a record would straddle the end), the new tail.
    private func place(_ c: LogCore, sizes: [Int], operation: String) throws(DaxLogError)
        -> (positions: [UInt64], pads: [(position: UInt64, before: Int)], tail: UInt64) {
        let capacity = UInt64(self.capacity)
        var position = c.tail
        var positions: [UInt64] = [], pads: [(UInt64, Int)] = []
        for (i, size) in sizes.enumerated() {
            let room = capacity - position % capacity
            if UInt64(size) > room {
                if room >= UInt64(LogLayout.recordHeader) { pads.append((position, i)) }
                position += room
            }
            positions.append(position)
            position += UInt64(size)
        }
        let used = position - c.header.headPosition
        guard used <= capacity else {
            throw DaxLogError(.full, operation: operation, path: c.device.path, sequence: c.next,
                              message: "the log is full: \(position - c.tail) bytes needed, \(capacity - (c.tail - c.header.headPosition)) free of \(capacity); discard records first")
        }
        return (positions, pads, position)
    }

    func appendLocked(_ c: inout LogCore, lengths: [Int],
                      encode: (Int, UInt64, UInt64, UnsafeMutableRawBufferPointer) -> Void) throws(DaxLogError) -> Range<UInt64> {
        let m = try writable(c, "append")
        let limit = maximumRecordSize
        if let i = lengths.firstIndex(where: { $0 > limit }) {
            throw DaxLogError(.invalidArgument, operation: "append", path: c.device.path,
                              message: "record \(i) of the batch has \(lengths[i]) bytes; at most \(limit) fit this log")
        }
        let sizes = lengths.map(LogLayout.recordSize)
        let plan = try place(c, sizes: sizes, operation: "append")
        let capacity = UInt64(self.capacity)
        let first = c.next
        var spans: [Range<Int>] = []
        func span(_ position: UInt64, _ size: Int) {
            let at = LogLayout.headerArea + Int(position % capacity)
            if let last = spans.last, last.upperBound == at { spans[spans.count - 1] = last.lowerBound..<(at + size) } else { spans.append(at..<(at + size)) }
        }
        var pads = plan.pads[...]
        // Taken out of the core so it is uniquely referenced: encoding into a
        // shared copy would copy the whole buffer (copy-on-write) every append.
        var staging = c.staging
        c.staging = []
        defer { c.staging = staging }
        for (i, size) in sizes.enumerated() {
            let sequence = first + UInt64(i)
            if let pad = pads.first, pad.before == i {
                pads = pads.dropFirst()
                let room = Int(capacity - pad.position % capacity)
                var bytes = [UInt8](repeating: 0, count: LogLayout.recordHeader)
                bytes.withUnsafeMutableBytes {
                    LogLayout.encode(type: LogLayout.typePad, sequence: sequence, bytes: UnsafeRawBufferPointer(start: nil, count: 0),
                                     generation: c.header.generation, into: $0)
                }
                try withBytes(bytes) { (b: UnsafeRawBufferPointer) throws(DaxLogError) in
                    try store(&c, m, .recordStore(index: i), b, at: LogLayout.headerArea + Int(pad.position % capacity),
                              operation: "append", sequence: sequence)
                }
                span(pad.position, min(room, LogLayout.recordHeader))
            }
            if staging.count < size { staging = [UInt8](repeating: 0, count: max(size, 4096)) }
            let generation = c.header.generation
            staging.withUnsafeMutableBytes { encode(i, sequence, generation, UnsafeMutableRawBufferPointer(rebasing: $0[0..<size])) }
            let at = LogLayout.headerArea + Int(plan.positions[i] % capacity)
            try withBytes(staging) { (b: UnsafeRawBufferPointer) throws(DaxLogError) in
                try store(&c, m, .recordStore(index: i), UnsafeRawBufferPointer(rebasing: b[0..<size]), at: at,
                          operation: "append", sequence: sequence)
            }
            span(plan.positions[i], size)
        }
        let persistStart = ContinuousClock.now
        do {
            try persist(&c, m, .recordPersist, spans: spans, operation: "append", sequence: first)
        } catch {
            metrics.failures.increment()
            throw error
        }
        metrics.appended(records: sizes.count, bytes: lengths.reduce(0, +), persist: ContinuousClock.now - persistStart)
        for (i, size) in sizes.enumerated() {
            c.entries.append(.init(sequence: first + UInt64(i), position: plan.positions[i], size: size))
        }
        c.tail = plan.tail
        c.next = first + UInt64(sizes.count)
        return first..<c.next
    }

    /// A gap record at the tail: the numbers from `c.next` to `resume` are lost.
    private func writeGap(_ c: inout LogCore, _ m: DaxMapping, resume: UInt64, operation: String) throws(DaxLogError) {
        var payload = resume.littleEndian
        let size = LogLayout.recordSize(8)
        let plan = try place(c, sizes: [size], operation: operation)
        let capacity = UInt64(self.capacity)
        var spans: [Range<Int>] = []
        if let pad = plan.pads.first {
            var bytes = [UInt8](repeating: 0, count: LogLayout.recordHeader)
            bytes.withUnsafeMutableBytes {
                LogLayout.encode(type: LogLayout.typePad, sequence: c.next, bytes: UnsafeRawBufferPointer(start: nil, count: 0),
                                 generation: c.header.generation, into: $0)
            }
            let at = LogLayout.headerArea + Int(pad.position % capacity)
            try withBytes(bytes) { (b: UnsafeRawBufferPointer) throws(DaxLogError) in
                try store(&c, m, .recordStore(index: 0), b, at: at, operation: operation, sequence: c.next)
            }
            spans.append(at..<(at + LogLayout.recordHeader))
        }
        var record = [UInt8](repeating: 0, count: size)
        let generation = c.header.generation, sequence = c.next
        withUnsafeBytes(of: &payload) { p in
            record.withUnsafeMutableBytes { LogLayout.encode(type: LogLayout.typeGap, sequence: sequence, bytes: p, generation: generation, into: $0) }
        }
        let at = LogLayout.headerArea + Int(plan.positions[0] % capacity)
        try withBytes(record) { (b: UnsafeRawBufferPointer) throws(DaxLogError) in
            try store(&c, m, .recordStore(index: 0), b, at: at, operation: operation, sequence: sequence)
        }
        spans.append(at..<(at + size))
        try persist(&c, m, .recordPersist, spans: spans, operation: operation, sequence: sequence)
        c.tail = plan.tail
    }

    // MARK: - Discard

    func discardLocked(_ c: inout LogCore, upTo sequence: UInt64) throws(DaxLogError) {
        let m = try writable(c, "discard")
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
        let capacity = UInt64(self.capacity)
        var out: [DaxLogRecord] = []
        var buffer = [UInt8]()
        var newlyLost: [UInt64] = []
        for e in c.entries where e.sequence >= from && !c.isLost(e.sequence) {
            if buffer.count < e.size { buffer = [UInt8](repeating: 0, count: e.size) }
            do {
                try withMutableBytes(&buffer) { (b: UnsafeMutableRawBufferPointer) throws(DaxError) in
                    try m.read(at: LogLayout.headerArea + Int(e.position % capacity), into: UnsafeMutableRawBufferPointer(rebasing: b[0..<e.size]))
                }
            } catch {
                newlyLost.append(e.sequence)
                continue
            }
            let ok = buffer.withUnsafeBytes { b -> [UInt8]? in
                guard let h = LogLayout.decodeHeader(b), h.sequence == e.sequence, h.size == e.size,
                      LogLayout.verify(b, h, generation: c.header.generation) else { return nil }
                return Array(b[LogLayout.recordHeader..<(LogLayout.recordHeader + h.length)])
            }
            if let bytes = ok { out.append(DaxLogRecord(sequence: e.sequence, bytes: bytes)) } else { newlyLost.append(e.sequence) }
        }
        for s in newlyLost { c.addLost(s..<(s + 1)) }
        return out
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
