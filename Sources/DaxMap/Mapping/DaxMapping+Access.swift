internal import CDaxMap

/// Guarded copies in and out, and the raw views.
extension DaxMapping {
    /// Copies `buffer.count` bytes from mapping offset `offset` into `buffer`.
    /// - Throws: `.outOfRange`, `.closed`, `.revoked`, `.deviceRemoved`,
    ///   `.mediaFailure` (with the failed device offset), `.pagesLost` ranges as `.deviceRemoved`.
    public func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(DaxError) {
        try check("read", offset, buffer.count)
        guard let dst = buffer.baseAddress, buffer.count > 0 else { return }
        var fault = cdaxmap_fault()
        if cdaxmap_read_guarded(dst, base.pointer + offset, buffer.count, &fault) != 0 {
            throw faultError("read", fault)
        }
    }

    /// Copies `bytes` to mapping offset `offset`, and makes them persistent
    /// unless `persist` is false (then call ``persist(at:count:)`` later).
    /// Uses non-temporal stores from ``Options/nonTemporalThreshold`` bytes up
    /// (at page granularity from 8 KiB at the earliest).
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int, persist: Bool = true) throws(DaxError) {
        try checkWritable("write", offset)
        try check("write", offset, bytes.count)
        guard let src = bytes.baseAddress, bytes.count > 0 else { return }
        try persistence.write(self, src, at: offset, count: bytes.count, persist: persist)
    }

    /// Fills `count` bytes at mapping offset `offset` with `value`; persists unless told not to.
    public func fill(_ value: UInt8, at offset: Int, count: Int, persist: Bool = true) throws(DaxError) {
        try checkWritable("fill", offset)
        try check("fill", offset, count)
        guard count > 0 else { return }
        try persistence.fill(self, value, at: offset, count: count, persist: persist)
    }

    /// Runs `body` with the mapped bytes. Unguarded: a fault follows ``Options/faultPolicy``.
    /// - Warning: the pointer is valid only inside `body`, and only until the
    ///   mapping is closed or revoked; after that it reaches a `PROT_NONE` reservation.
    public func withUnsafeMutableBytes<R, E: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        Persistence.prepareThread()
        return try body(UnsafeMutableRawBufferPointer(start: base.pointer, count: count))
    }

    /// A store into a read-only mapping would be a SIGSEGV (read as "revoked"): refuse it.
    func checkWritable(_ operation: String, _ offset: Int) throws(DaxError) {
        guard readOnly else { return }
        throw DaxError(.permissionDenied, operation: operation, path: device.path, offset: self.offset + UInt64(max(offset, 0)),
                       message: "the mapping is read-only (the device or the mapping was opened read-only)")
    }

    /// Runs `body` with the mapped bytes, read-only: the raw access for
    /// readers (and for read-only mappings), with no guard and no copy.
    /// Unguarded like ``withUnsafeMutableBytes(_:)``: a fault follows
    /// ``Options/faultPolicy`` (``FaultPolicy/replacePages`` reads zeros from
    /// the replaced pages, which ``lostRanges`` then lists).
    /// - Warning: the pointer is valid only inside `body`, and only until the
    ///   mapping is closed or revoked.
    public func withUnsafeBytes<R, E: Error>(
        _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        Persistence.prepareThread()
        return try body(UnsafeRawBufferPointer(start: base.pointer, count: count))
    }

    func check(_ operation: String, _ offset: Int, _ count: Int) throws(DaxError) {
        switch stateValue.load(ordering: .acquiring) {
        case State.open.rawValue: break
        case State.revoked.rawValue:
            throw DaxError(.revoked, operation: operation, path: device.path, offset: self.offset + UInt64(max(offset, 0)),
                           message: "the mapping was revoked after the device was removed; reopen the device and map again")
        case Self.cutOffValue:
            throw persistence.cutOffError(self, operation, offset: self.offset + UInt64(max(offset, 0)))
        default:
            throw DaxError(.closed, operation: operation, path: device.path, message: "the mapping is closed")
        }
        guard offset >= 0, count >= 0, offset <= self.count, count <= self.count - offset else {
            throw DaxError(.outOfRange, operation: operation, path: device.path, offset: UInt64(max(offset, 0)),
                           length: UInt64(max(count, 0)),
                           message: "range [\(offset), \(offset &+ count)) is outside the mapping of \(self.count) bytes")
        }
        let start = UInt(bitPattern: base.pointer)
        var lo: UInt = 0, hi: UInt = 0
        let kind = cdaxmap_range_check(slot, start + UInt(offset), start + UInt(offset + max(count, 1)), &lo, &hi)
        if kind != 0 { throw FaultClassifier(self).error(operation, marked: kind, lo: lo, hi: hi) }
        Persistence.prepareThread()
    }
}
