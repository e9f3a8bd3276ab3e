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

/// A log region's bytes in memory.
struct LogImageMedium: LogMedium {
    let bytes: UnsafeRawBufferPointer

    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(DaxError) {
        guard offset >= 0, buffer.count <= bytes.count, offset <= bytes.count - buffer.count else {
            throw DaxError(.outOfRange, operation: "read", offset: UInt64(max(offset, 0)), length: UInt64(buffer.count),
                           message: "past the end of the log image (\(bytes.count) bytes)")
        }
        if buffer.count > 0 { buffer.baseAddress!.copyMemory(from: bytes.baseAddress! + offset, byteCount: buffer.count) }
    }
}
