extension DaxMapping {
    /// Reads one `T` at mapping offset `offset` through a guarded copy (a
    /// fault throws, as ``read(at:into:)``). Any alignment.
    ///
    /// `T` must be valid for whatever bytes the device holds: integers,
    /// floating point, and structs and tuples of them (not `Bool` or enums).
    /// - Throws: what ``read(at:into:)`` throws.
    public func load<T: BitwiseCopyable>(_ type: T.Type = T.self, at offset: Int) throws(DaxError) -> T {
        try withUnsafeTemporaryAllocation(of: T.self, capacity: 1) { (value: UnsafeMutableBufferPointer<T>) throws(DaxError) -> T in
            try self.read(at: offset, into: UnsafeMutableRawBufferPointer(value))
            return value[0]
        }
    }

    /// Writes one `T` at mapping offset `offset` through a guarded copy, and
    /// makes it persistent unless `persist` is false. Any alignment.
    /// - Throws: what ``write(_:at:persist:)`` throws.
    public func store<T: BitwiseCopyable>(_ value: T, at offset: Int, persist: Bool = true) throws(DaxError) {
        try withUnsafeTemporaryAllocation(of: T.self, capacity: 1) { (buffer: UnsafeMutableBufferPointer<T>) throws(DaxError) in
            buffer.initialize(repeating: value)
            try self.write(UnsafeRawBufferPointer(buffer), at: offset, persist: persist)
        }
    }

    /// Runs `body` with `count` values of `T` at mapping offset `offset`, read-only.
    ///
    /// Checked first: the range is in the mapping, `offset` is aligned for `T`,
    /// the mapping is open and no failure it knows of (poison or removed memory
    /// met before, see ``failures``) is in the range. Inside `body` the access is unguarded, like
    /// ``withUnsafeBytes(_:)``: a fault follows ``Options/faultPolicy``. `T` must
    /// be valid for any bytes (see ``load(_:at:)``).
    /// - Throws: `.outOfRange`, `.misaligned`, `.closed`, `.revoked`, `.mediaFailure`, `.deviceRemoved`.
    public func withUnsafeBufferPointer<T: BitwiseCopyable, R>(
        of type: T.Type, at offset: Int, count: Int, _ body: (UnsafeBufferPointer<T>) -> R
    ) throws(DaxError) -> R {
        let start = try typedRange(T.self, "withUnsafeBufferPointer", offset, count)
        return body(UnsafeBufferPointer(start: start.assumingMemoryBound(to: T.self), count: count))
    }

    /// Runs `body` with `count` mutable values of `T` at mapping offset
    /// `offset`; checked and unguarded as ``withUnsafeBufferPointer(of:at:count:_:)``.
    /// Stores are not persistent until ``persist(at:count:)``.
    /// - Throws: also `.permissionDenied` for a read-only mapping.
    public func withUnsafeMutableBufferPointer<T: BitwiseCopyable, R>(
        of type: T.Type, at offset: Int, count: Int, _ body: (UnsafeMutableBufferPointer<T>) -> R
    ) throws(DaxError) -> R {
        guard !(options.readOnly || device.options.readOnly) else {
            throw DaxError(.permissionDenied, operation: "withUnsafeMutableBufferPointer", path: device.path,
                           offset: self.offset + UInt64(max(offset, 0)),
                           message: "the mapping is read-only (the device or the mapping was opened read-only)")
        }
        let start = try typedRange(T.self, "withUnsafeMutableBufferPointer", offset, count)
        return body(UnsafeMutableBufferPointer(start: start.assumingMemoryBound(to: T.self), count: count))
    }

    /// The address of `count` values of `T` at `offset`, after the checks of a typed view.
    private func typedRange<T>(_: T.Type, _ operation: String, _ offset: Int, _ count: Int) throws(DaxError) -> UnsafeMutableRawPointer {
        let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard count >= 0, !overflow else {
            throw DaxError(.outOfRange, operation: operation, path: device.path, offset: self.offset + UInt64(max(offset, 0)),
                           message: "\(count) values of \(MemoryLayout<T>.stride) bytes do not fit in the mapping of \(self.count) bytes")
        }
        guard offset >= 0, offset % MemoryLayout<T>.alignment == 0 else {
            throw DaxError(.misaligned, operation: operation, path: device.path, offset: self.offset + UInt64(max(offset, 0)),
                           message: "offset \(offset) is not a multiple of \(T.self)'s alignment \(MemoryLayout<T>.alignment)")
        }
        try check(operation, offset, bytes)
        return base.pointer + offset
    }
}
