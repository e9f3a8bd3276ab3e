import Glibc

/// The checksummed records the demo and the harness writers append: 256 bytes
/// each (at the non-temporal threshold, so DAX targets take the streaming path).
///
/// Layout: magic "DAXR" (4) · holder (4) · sequence (8) · checksum (8) · payload (232),
/// the payload derived from (holder, sequence) so a verifier can recompute it.
enum RecordFormat {
    static let size = 256
    static let magic: UInt32 = 0x5258_4144 // "DAXR" little-endian

    static func encode(holder: Int, sequence: UInt64, into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= size)
        buffer.storeBytes(of: magic.littleEndian, toByteOffset: 0, as: UInt32.self)
        buffer.storeBytes(of: UInt32(holder).littleEndian, toByteOffset: 4, as: UInt32.self)
        buffer.storeBytes(of: sequence.littleEndian, toByteOffset: 8, as: UInt64.self)
        var state = (UInt64(holder) << 48) ^ sequence ^ 0x9E37_79B9_7F4A_7C15
        for i in stride(from: 24, to: size, by: 8) {
            state = splitmix(&state)
            buffer.storeBytes(of: state.littleEndian, toByteOffset: i, as: UInt64.self)
        }
        buffer.storeBytes(of: checksum(buffer).littleEndian, toByteOffset: 16, as: UInt64.self)
    }

    /// Whether `buffer` holds the intact record (holder, sequence).
    static func verify(holder: Int, sequence: UInt64, _ buffer: UnsafeRawBufferPointer) -> Bool {
        guard buffer.count >= size,
              UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) == magic,
              UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) == UInt32(holder),
              UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) == sequence
        else { return false }
        let stored = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        guard stored == checksum(buffer) else { return false }
        // The payload must be the one this (holder, sequence) writes, not merely self-consistent.
        var expected = [UInt8](repeating: 0, count: size)
        expected.withUnsafeMutableBytes { encode(holder: holder, sequence: sequence, into: $0) }
        return expected.withUnsafeBytes { memcmp($0.baseAddress!, buffer.baseAddress!, size) == 0 }
    }

    /// FNV-1a over everything but the checksum field.
    static func checksum(_ buffer: some Collection<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for (i, byte) in buffer.prefix(size).enumerated() where !(16..<24).contains(i) {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return hash
    }

    private static func splitmix(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

