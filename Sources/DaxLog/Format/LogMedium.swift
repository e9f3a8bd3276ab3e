import DaxMap

/// Where a log's bytes are read from: its mapping (guarded reads that throw
/// on poison or removed memory), or an image in memory (the fuzzer's input).
/// Recovery reads only through this, so the code the fuzzer runs is the code
/// `open` runs.
protocol LogMedium {
    /// Reads `buffer.count` bytes at region offset `offset`.
    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(DaxError)
}

extension DaxMapping: LogMedium {}

/// A log region's bytes in memory; reads touching a `failed` range throw as
/// a guarded read of poison (or, past a cut, of a truncated file) does.
struct LogImageMedium: LogMedium {
    let bytes: UnsafeRawBufferPointer
    var failed: [(range: Range<Int>, removed: Bool)] = []

    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(DaxError) {
        guard offset >= 0, buffer.count <= bytes.count, offset <= bytes.count - buffer.count else {
            throw DaxError(.outOfRange, operation: "read", offset: UInt64(max(offset, 0)), length: UInt64(buffer.count),
                           message: "past the end of the log image (\(bytes.count) bytes)")
        }
        for f in failed where f.range.overlaps(offset..<(offset + buffer.count)) {
            let start = max(f.range.lowerBound, offset)
            throw DaxError(f.removed ? .deviceRemoved : .mediaFailure, operation: "read", offset: UInt64(start),
                           length: UInt64(f.range.upperBound - start), message: "a failed range of the log image")
        }
        if buffer.count > 0 { buffer.baseAddress!.copyMemory(from: bytes.baseAddress! + offset, byteCount: buffer.count) }
    }
}
