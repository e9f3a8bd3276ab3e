/// The caller's buffers: a long payload is stored from where it is.
struct BufferPayloads: RecordPayloads {
    let buffers: UnsafeBufferPointer<UnsafeRawBufferPointer>
    var count: Int { buffers.count }
    @inline(__always) func length(_ i: Int) -> Int { buffers[i].count }
    @inline(__always) func direct(_ i: Int) -> Bool { buffers[i].count >= DaxLog.directPayload }
    @inline(__always) func address(_ i: Int) -> UnsafeRawPointer? { buffers[i].baseAddress }
    @inline(__always) func copy(_ i: Int, to: UnsafeMutableRawPointer) {
        if let b = buffers[i].baseAddress, buffers[i].count > 0 { to.copyMemory(from: b, byteCount: buffers[i].count) }
    }
}
