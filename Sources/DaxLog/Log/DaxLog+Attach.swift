import DaxMap

extension DaxLog {
    // MARK: - Attach: map, header, scan

    func attach(_ c: inout LogCore, device: DaxDevice, operation: String, creation: Options.Creation) throws(DaxLogError) {
        // The region fits the device: `open` checked it, and `reattach` before it let go of the old mapping.
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
        c.attachment = m.id
        do {
            try attachMapped(&c, m, operation: operation, creation: creation, previous: previous)
            LogWarnings.lost(c.recovery.lost, path: device.path, cause: "recovery")
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
        let device = c.device
        let chosen = try withBytes(area) { (b: UnsafeRawBufferPointer) throws(DaxLogError) -> LogHeader? in
            try LogHeader.choose(in: b, capacity: UInt64(capacity), creation: creation, operation: operation, path: path,
                                 offset: offset) { needed in needed > device.size ? tooSmall(device, operation: operation, needed: needed) : nil }
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
        let loss = Self.lossRecord(in: area, generation: header.generation)
        c.lossEpoch = loss?.epoch ?? 0
        let plan = LogRecoveryPlan(header: header, scan: result, loss: loss,
                                   previous: previous.map { ($0.next, $0.lost) },
                                   tailOffset: dataDeviceOffset + result.tail % UInt64(capacity))
        c.lost = plan.lost
        let writable = !options.readOnly && c.state == .open
        if let gap = plan.gap, writable { try writeGap(&c, m, resume: gap.upperBound, operation: operation) }
        if let skip = plan.skip, writable {
            c.next = skip.lowerBound
            try writeGap(&c, m, type: LogLayout.typeSkip, resume: skip.upperBound, operation: operation)
        }
        c.next = plan.next
        if writable {
            if header.version < LogLayout.version { try upgrade(&c, m, operation: operation) }
            let live = header.headSequence..<UInt64.max
            if c.lost != loss?.ranges.map({ $0.clamped(to: live) }).filter({ !$0.isEmpty }) ?? [] { recordLoss(&c, m) }
        }
        c.durableTail = c.tail
        c.durableNext = c.next
        c.recovery = DaxLogRecovery(firstSequence: header.headSequence, nextSequence: c.next,
                                    recordCount: c.entries.count, lost: c.lost, failedRanges: result.failed,
                                    stop: plan.stop, corrupted: result.corrupted, unaccounted: plan.unaccounted)
    }

    /// A version-1 log opened for writing: both header slots rewritten as the
    /// current version (with a lease at the next number), so an older DaxLog
    /// never takes the stale slot for the newest header.
    private func upgrade(_ c: inout LogCore, _ m: DaxMapping, operation: String) throws(DaxLogError) {
        var header = c.header
        header.lease = max(header.lease, c.next)
        for _ in 0..<2 {
            header.epoch += 1
            try storeHeader(&c, m, bytes: header.encoded(), slot: header.slot, operation: operation)
        }
        header.version = LogLayout.version
        c.header = header
    }

    /// The device is shorter than the log region: say by how much, and what to do.
    func tooSmall(_ device: DaxDevice, operation: String, needed: UInt64) -> DaxLogError {
        let grow = device.kind == .deviceDax ? "" :
            ", or grow the file to \(needed) bytes (reattach(growingEmulatedFile: true), or DaxDevice.createEmulated(at: \"\(device.path)\", size: \(needed))) and open or reattach: records in the regrown part are reported lost"
        return DaxLogError(.deviceTooSmall, operation: operation, path: device.path, offset: offset,
                           message: "the device is \(device.size) bytes and the log needs \(needed) (its region ends there): it is shorter than when the log was made (a truncated file, a smaller device); wait until the device is whole again and reattach or open again\(grow)")
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
}
