/// The bytes a crash-test writer appends: who wrote it and its number in that
/// writer's order, then a body derived from both and the cycle's seed. A
/// record read back is either exactly what some writer appended or it is not
/// (corrupt), whether or not its append was acknowledged.
enum CrashPayload {
    /// Writer (1 byte), counter (4 bytes), body.
    static let headerSize = 5

    static func make(seed: UInt64, writer: Int, counter: UInt32) -> [UInt8] {
        var state = mix(seed ^ UInt64(writer) << 40 ^ UInt64(counter))
        let count = headerSize + Int(state % 400)
        var bytes = [UInt8](repeating: 0, count: count)
        bytes[0] = UInt8(writer)
        withUnsafeBytes(of: counter.littleEndian) { for i in 0..<4 { bytes[1 + i] = $0[i] } }
        for i in headerSize..<count {
            if (i - headerSize) % 8 == 0 { state = mix(state) }
            bytes[i] = UInt8(truncatingIfNeeded: state >> (8 * ((i - headerSize) % 8)))
        }
        return bytes
    }

    /// The writer and counter a record claims, if it is long enough to claim any.
    static func claim(_ bytes: [UInt8]) -> (writer: Int, counter: UInt32)? {
        guard bytes.count >= headerSize else { return nil }
        let counter = UInt32(bytes[1]) | UInt32(bytes[2]) << 8 | UInt32(bytes[3]) << 16 | UInt32(bytes[4]) << 24
        return (Int(bytes[0]), counter)
    }

    /// Whether `bytes` is exactly what its claimed writer appended.
    static func isGenuine(_ bytes: [UInt8], seed: UInt64) -> Bool {
        guard let (writer, counter) = claim(bytes) else { return false }
        return make(seed: seed, writer: writer, counter: counter) == bytes
    }

    /// One SplitMix64 step (the workload's and the payloads' randomness).
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
