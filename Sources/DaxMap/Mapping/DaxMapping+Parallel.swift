internal import CDaxMap

extension DaxMapping {
    /// Parts of a parallel write or fill are at least this large: below it the
    /// hand-off costs more than a second thread gains.
    public static let parallelMinimumPart = 256 << 10

    /// Copies `bytes` to mapping offset `offset` on up to `parallelism` threads
    /// (the caller's and daxmap's copy workers), then persists unless told not to.
    ///
    /// On many machines one thread's streaming stores reach only about half
    /// of the memory's bandwidth; large copies go faster split. Workers spin
    /// briefly between parts, so back-to-back large writes do not pay a
    /// thread wake-up each. Parts are whole pages of at
    /// least ``parallelMinimumPart`` bytes, so small copies stay on the calling
    /// thread. A fault in any part is reported as in ``write(_:at:persist:)``:
    /// the first failing byte of the whole copy, the holders told; bytes after
    /// it may or may not have been written. A simulated persistence domain
    /// copies on the calling thread (its points stay in order).
    /// - Parameters:
    ///   - bytes: the bytes to copy.
    ///   - offset: the mapping offset of the first byte.
    ///   - persist: whether to persist the range after the copy.
    ///   - parallelism: threads at most (1 is ``write(_:at:persist:)``; at most 16).
    /// - Throws: what ``write(_:at:persist:)`` throws, and `.invalidArgument` for `parallelism` < 1.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int, persist: Bool = true, parallelism: Int) throws(DaxError) {
        try checkParallelism("write", parallelism)
        guard let src = bytes.baseAddress, parallelism > 1, persistence.storesInParallel,
              bytes.count >= 2 * Self.parallelMinimumPart else {
            return try write(bytes, at: offset, persist: persist)
        }
        try checkWritable("write", offset)
        try check("write", offset, bytes.count)
        try parallel("write", offset, bytes.count, parallelism: parallelism, persist: persist) { at, n, streaming in
            CopyEngine.Part(destination: base.pointer + offset + at, source: src + at, value: 0, count: n, streaming: streaming)
        }
    }

    /// Fills `count` bytes at mapping offset `offset` with `value` on up to
    /// `parallelism` threads, as ``write(_:at:persist:parallelism:)``.
    public func fill(_ value: UInt8, at offset: Int, count: Int, persist: Bool = true, parallelism: Int) throws(DaxError) {
        try checkParallelism("fill", parallelism)
        guard parallelism > 1, persistence.storesInParallel, count >= 2 * Self.parallelMinimumPart else {
            return try fill(value, at: offset, count: count, persist: persist)
        }
        try checkWritable("fill", offset)
        try check("fill", offset, count)
        try parallel("fill", offset, count, parallelism: parallelism, persist: persist) { at, n, streaming in
            CopyEngine.Part(destination: base.pointer + offset + at, source: nil, value: CInt(value), count: n, streaming: streaming)
        }
    }

    private func checkParallelism(_ operation: String, _ parallelism: Int) throws(DaxError) {
        guard parallelism >= 1 else {
            throw DaxError(.invalidArgument, operation: operation, path: device.path,
                           message: "parallelism must be 1 or more, not \(parallelism)")
        }
    }

    /// Splits [offset, offset + count) at page boundaries into parts of at
    /// least ``parallelMinimumPart``, runs them, reports the first fault, persists.
    private func parallel(_ operation: String, _ offset: Int, _ count: Int, parallelism: Int, persist: Bool,
                          _ part: (Int, Int, Bool) -> CopyEngine.Part) throws(DaxError) {
        let threads = min(parallelism, CopyEngine.maximumWorkers + 1, count / Self.parallelMinimumPart)
        let streaming = count >= persistence.streamingThreshold
        let page = Syscalls.pageSize
        // Boundaries on pages of the device, so no two threads store to one line.
        var cuts = [0]
        for i in 1..<threads {
            let cut = ((offset + count * i / threads) & ~(page - 1)) - offset
            if cut > cuts.last! && cut < count { cuts.append(cut) }
        }
        cuts.append(count)
        let parts = (0..<(cuts.count - 1)).map { part(cuts[$0], cuts[$0 + 1] - cuts[$0], streaming) }
        let faults = DaxRuntime.process.copyEngine.run(parts).compactMap { $0 }
        if let first = faults.min(by: { $0.address < $1.address }) { throw faultError(operation, first) }
        if persist { try persistRange(offset, count, streamed: streaming) }
    }
}
