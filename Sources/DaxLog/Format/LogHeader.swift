/// One header slot: what a log needs to find its records.
///
/// Version 2 (128-byte slot) adds the sequence lease; a version-1 slot (64
/// bytes, no lease) still decodes, with `lease` 0 ("none recorded"), and is
/// rewritten as version 2 the first time a writer updates the header.
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
    /// Every sequence number below it may have been handed out (persisted
    /// before any of them is acknowledged; a clean close lowers it to the
    /// next number). Recovery resumes at or after it, so no number is reused.
    var lease: UInt64 = 0
    /// The on-media version the slot was read in (not stored: a write is always the current one).
    var version: UInt32 = LogLayout.version

    /// What is wrong with a header whose checksum passes, if anything: a field
    /// no writer produces. One line a field, so a new field adds one check.
    func problem() -> String? {
        let checks: [(bad: Bool, why: String)] = [
            (epoch > LogLayout.maximumSequence, "epoch \(epoch) is past 2^62"),
            (headSequence > LogLayout.maximumSequence, "head sequence \(headSequence) is past 2^62"),
            (headPosition > LogLayout.maximumPosition, "head position \(headPosition) is past 2^62"),
            (headPosition % 8 != 0, "head position \(headPosition) is not a multiple of 8"),
            (capacity == 0 || capacity > LogLayout.maximumPosition || capacity % 8 != 0,
             "data area of \(capacity) bytes is not a multiple of 8 up to 2^62"),
            (lease > LogLayout.maximumSequence, "sequence lease \(lease) is past 2^62"),
        ]
        return checks.first { $0.bad }?.why
    }

    /// Every field of a slot (name, byte offset, width), for the fuzzer's mutations.
    static let fields: [(name: String, offset: Int, width: Int)] = [
        ("magic", 0, 8), ("version", 8, 4), ("generation", 16, 8), ("epoch", 24, 8), ("capacity", 32, 8),
        ("headSequence", 40, 8), ("headPosition", 48, 8), ("lease", 56, 8), ("crc", crcOffset, 4),
    ]

    /// Which slot this header goes to.
    var slot: Int { Int(epoch & 1) }

    /// The bytes of a version-2 slot.
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
            p.storeBytes(of: lease.littleEndian, toByteOffset: 56, as: UInt64.self)
            let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: p[0..<Self.crcOffset]))
            p.storeBytes(of: crc.littleEndian, toByteOffset: Self.crcOffset, as: UInt32.self)
        }
        return b
    }

    /// Where a version-2 slot keeps its checksum (of the bytes before it).
    static let crcOffset = 120
    /// Where a version-1 slot did.
    static let version1CRCOffset = 56

    /// What a slot holds: a valid header, nothing (all zero), a header of a
    /// version this code does not know, or something else.
    enum Decoded { case valid(LogHeader), blank, unknownVersion(UInt32), invalid }

    static func decode(_ p: UnsafeRawBufferPointer) -> Decoded {
        guard p.count >= LogLayout.slotSize else { return .invalid }
        if p.prefix(LogLayout.slotSize).allSatisfy({ $0 == 0 }) { return .blank }
        guard UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt64.self)) == LogLayout.magic else { return .invalid }
        let version = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        let crcAt: Int
        switch version {
        case 1: crcAt = version1CRCOffset
        case LogLayout.version: crcAt = crcOffset
        default:
            // Only a checksum-valid slot says which version it is; a newer
            // writer's slot keeps its checksum somewhere this code cannot know.
            return version > LogLayout.version ? .unknownVersion(version) : .invalid
        }
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: p[0..<crcAt]))
        guard UInt32(littleEndian: p.loadUnaligned(fromByteOffset: crcAt, as: UInt32.self)) == crc else { return .invalid }
        return .valid(LogHeader(
            generation: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
            epoch: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 24, as: UInt64.self)),
            capacity: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 32, as: UInt64.self)),
            headSequence: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 40, as: UInt64.self)),
            headPosition: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 48, as: UInt64.self)),
            lease: version == 1 ? 0 : UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 56, as: UInt64.self)),
            version: version))
    }
}
