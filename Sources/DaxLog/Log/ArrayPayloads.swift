/// Arrays: each is reached only inside its own `withUnsafeBytes`, so every
/// payload is copied after its header (no pointer outlives its access, and no
/// nesting of one access per array).
struct ArrayPayloads: RecordPayloads {
    let arrays: [[UInt8]]
    var count: Int { arrays.count }
    @inline(__always) func length(_ i: Int) -> Int { arrays[i].count }
    @inline(__always) func direct(_ i: Int) -> Bool { false }
    @inline(__always) func address(_ i: Int) -> UnsafeRawPointer? { nil }
    @inline(__always) func copy(_ i: Int, to: UnsafeMutableRawPointer) {
        arrays[i].withUnsafeBytes { b in
            if let s = b.baseAddress, b.count > 0 { to.copyMemory(from: s, byteCount: b.count) }
        }
    }
}
