import DaxMap

/// Batched appends from the caller's own memory, and the layout figures a
/// service needs without computing them by hand.
extension DaxLog {
    /// Bytes before the data area of a log region: the two header slots and
    /// the two loss-record slots. The first record is at ``offset`` plus this.
    public static let headerSize = LogLayout.headerArea

    /// Bytes before the data area of this log's region (``headerSize-type.property``).
    public var headerSize: Int { Self.headerSize }

    /// The device offset where the next record goes: the data area's start
    /// (``offset`` + ``headerSize-property``) plus the tail's place in the circle of
    /// records (a record that does not fit before the end of the data area
    /// goes to its start instead, after a pad record).
    public var tailOffset: UInt64 {
        core.withLock { c in dataDeviceOffset + c.tail % UInt64(capacity) }
    }

    /// Appends a batch whose records are the caller's buffers, as they are:
    /// each record's checksum is computed from its buffer and the bytes are
    /// copied from it straight to the device (no array, no staging copy).
    /// One persist for all of them (group commit); returns the sequence
    /// numbers, consecutive, once every record is persistent. All or nothing.
    /// The buffers are only read, and only during the call.
    /// - Throws: `.invalidArgument` (an empty batch, or a record larger than
    ///   ``maximumRecordSize``), and what ``append(_:)-(UnsafeRawBufferPointer)`` throws.
    @discardableResult
    public func append<C: Collection>(buffers: C) throws(DaxLogError) -> Range<UInt64> where C.Element == UnsafeRawBufferPointer {
        var failure: DaxLogError?
        let contiguous = buffers.withContiguousStorageIfAvailable { b -> Range<UInt64>? in
            do throws(DaxLogError) { return try appendRecords(b) } catch {
                failure = error
                return nil
            }
        }
        if let failure { throw failure }
        if let contiguous, let r = contiguous { return r }
        return try withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer.self, capacity: buffers.count) {
            (b: UnsafeMutableBufferPointer<UnsafeRawBufferPointer>) throws(DaxLogError) -> Range<UInt64> in
            var i = 0
            for buffer in buffers {
                b.initializeElement(at: i, to: buffer)
                i += 1
            }
            return try appendRecords(UnsafeBufferPointer(rebasing: b[0..<i]))
        }
    }

    /// Appends a batch of records of the given sizes, each written by
    /// `body(index, space)` into space reserved for it (`space.count` is
    /// `sizes[index]`); one persist for all (group commit). The space is in
    /// ordinary memory, not the mapping: a store there can never meet poison
    /// or a removed device, so `body` needs no guard; the bytes then go to
    /// the device with the log's guarded stores. Nothing is appended if a
    /// size is refused; `body` is not called then.
    /// - Throws: `.invalidArgument` (no sizes, a negative size, or one larger than
    ///   ``maximumRecordSize``), and what ``append(_:)-(UnsafeRawBufferPointer)`` throws.
    @discardableResult
    public func append<C: Collection>(sizes: C, writing body: (_ index: Int, _ space: UnsafeMutableRawBufferPointer) -> Void)
        throws(DaxLogError) -> Range<UInt64> where C.Element == Int {
        let limit = maximumRecordSize
        var total = 0
        for (i, n) in sizes.enumerated() where n < 0 || n > limit {
            throw DaxLogError(.invalidArgument, operation: "append", path: device.path,
                              message: "record \(i) of the batch has \(n) bytes; from 0 to \(limit) fit this log")
        }
        for n in sizes { total += n }
        let count = sizes.count
        return try withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer.self, capacity: count) {
            (b: UnsafeMutableBufferPointer<UnsafeRawBufferPointer>) throws(DaxLogError) -> Range<UInt64> in
            try withUnsafeTemporaryAllocation(byteCount: max(total, 1), alignment: 16) {
                (space: UnsafeMutableRawBufferPointer) throws(DaxLogError) -> Range<UInt64> in
                var at = 0, i = 0
                for n in sizes {
                    let part = UnsafeMutableRawBufferPointer(rebasing: space[at..<(at + n)])
                    body(i, part)
                    b.initializeElement(at: i, to: UnsafeRawBufferPointer(part))
                    at += n
                    i += 1
                }
                return try appendRecords(UnsafeBufferPointer(rebasing: b[0..<i]))
            }
        }
    }
}
