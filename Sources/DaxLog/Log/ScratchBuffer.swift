/// The append path's scratch memory (record headers, checksums, the gather
/// list, small payloads), kept by the log and used under its lock: a
/// temporary allocation of a batch's size came from the heap on every
/// append (its malloc and free were a twentieth of a batched append).
final class ScratchBuffer: @unchecked Sendable {
    private var base: UnsafeMutableRawPointer?
    private var capacity = 0

    /// At least `count` bytes, 16-byte aligned, valid until the next call.
    func bytes(_ count: Int) -> UnsafeMutableRawPointer {
        if count > capacity || base == nil {
            base?.deallocate()
            capacity = max(count, 4096, capacity * 2)
            base = .allocate(byteCount: capacity, alignment: 16)
        }
        return base!
    }

    deinit { base?.deallocate() }
}
