/// One header slot: what a log needs to find its records.
struct LogHeader: Equatable {
    /// Chosen at format; seeds every record checksum.
    var generation: UInt64
    /// Bumped by every header update; the valid slot with the higher one wins.
    var epoch: UInt64
    /// Bytes of the data area.
    var capacity: UInt64
    /// The first live sequence number and its logical position.
    var headSequence: UInt64
    var headPosition: UInt64

    /// What is wrong with a header whose checksum passes, if anything: a field
    /// no writer produces. One line a field, so a new field adds one check.
    func problem() -> String? {
        let checks: [(bad: Bool, why: String)] = [
            (epoch > LogLayout.maximumSequence, "epoch \(epoch) is past 2^62"),
            (headSequence > LogLayout.maximumSequence, "head sequence \(headSequence) is past 2^62"),
            (headPosition > LogLayout.maximumPosition, "head position \(headPosition) is past 2^62"),
            (headPosition % 8 != 0, "head position \(headPosition) is not a multiple of 8"),
        ]
        return checks.first { $0.bad }?.why
    }

    /// Every field of a slot (name, byte offset, width), for the fuzzer's mutations.
    static let fields: [(name: String, offset: Int, width: Int)] = [
        ("magic", 0, 8), ("version", 8, 4), ("generation", 16, 8), ("epoch", 24, 8), ("capacity", 32, 8),
        ("headSequence", 40, 8), ("headPosition", 48, 8), ("crc", checksumOffset, 4),
    ]
    /// The slot's checksum: CRC-32C of the bytes before it.
    static let checksumOffset = 56

    /// Which slot this header goes to.
    var slot: Int { Int(epoch & 1) }

    func encoded() -> [UInt8] {
        var b = [UInt8](repeating: 0, count: LogLayout.slotSize)
        b.withUnsafeMutableBytes { p in
            p.storeBytes(of: LogLayout.magic.littleEndian, toByteOffset: 0, as: UInt64.self)
            p.storeBytes(of: LogLayout.version.littleEndian, toByteOffset: 8, as: UInt32.self)
            p.storeBytes(of: generation.littleEndian, toByteOffset: 16, as: UInt64.self)
            p.storeBytes(of: epoch.littleEndian, toByteOffset: 24, as: UInt64.self)
            p.storeBytes(of: capacity.littleEndian, toByteOffset: 32, as: UInt64.self)
            p.storeBytes(of: headSequence.littleEndian, toByteOffset: 40, as: UInt64.self)
            p.storeBytes(of: headPosition.littleEndian, toByteOffset: 48, as: UInt64.self)
            let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: p[0..<56]))
            p.storeBytes(of: crc.littleEndian, toByteOffset: 56, as: UInt32.self)
        }
        return b
    }

    /// What a slot holds: a valid header, nothing (all zero), or something else.
    enum Decoded { case valid(LogHeader), blank, invalid }

    static func decode(_ p: UnsafeRawBufferPointer) -> Decoded {
        guard p.count >= LogLayout.slotSize else { return .invalid }
        if p.prefix(LogLayout.slotSize).allSatisfy({ $0 == 0 }) { return .blank }
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: p[0..<56]))
        guard UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt64.self)) == LogLayout.magic,
              UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt32.self)) == LogLayout.version,
              UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 56, as: UInt32.self)) == crc
        else { return .invalid }
        return .valid(LogHeader(
            generation: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
            epoch: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 24, as: UInt64.self)),
            capacity: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 32, as: UInt64.self)),
            headSequence: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 40, as: UInt64.self)),
            headPosition: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 48, as: UInt64.self))))
    }
}
