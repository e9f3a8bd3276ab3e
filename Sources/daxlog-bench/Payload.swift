import Glibc

/// The payloads of one cell: `batch` records of `record` bytes, as arrays and as buffers.
final class Payload: @unchecked Sendable {
    let bytes: UnsafeMutableRawPointer
    let record: Int
    let group: [[UInt8]]
    let buffers: [UnsafeRawBufferPointer]
    var iov: [iovec]
    init(record: Int, batch: Int) {
        self.record = record
        let base = UnsafeMutableRawPointer.allocate(byteCount: max(record, 1) * batch, alignment: 64)
        base.initializeMemory(as: UInt8.self, repeating: 0x5a, count: max(record, 1) * batch)
        bytes = base
        group = [[UInt8]](repeating: [UInt8](repeating: 0x5a, count: record), count: batch)
        let buffers = (0..<batch).map { UnsafeRawBufferPointer(start: base + $0 * record, count: record) }
        self.buffers = buffers
        iov = buffers.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: record) }
    }
    deinit { bytes.deallocate() }
}

