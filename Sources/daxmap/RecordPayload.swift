/// The records `hold` and `demo` append: 232 bytes derived from (holder,
/// sequence), so `verify` can recompute what each acknowledged record must hold.
/// The framing, checksum and persistence are DaxLog's.
enum RecordPayload {
    static let size = 232

    static func bytes(holder: Int, sequence: UInt64) -> [UInt8] {
        var state = (UInt64(holder) << 48) ^ sequence ^ 0x9E37_79B9_7F4A_7C15
        var out = [UInt8]()
        out.reserveCapacity(size)
        while out.count < size {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            for i in 0..<8 where out.count < size { out.append(UInt8(truncatingIfNeeded: z >> (8 * UInt64(i)))) }
        }
        return out
    }
}
