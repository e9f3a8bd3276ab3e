/// The sequence numbers a log knows lost, kept in its header area so that
/// recovery in any process reports them by number, even when the records
/// themselves are gone (a truncated file that came back as zeros).
///
/// Written (synchronously, before the failing append throws) whenever the log
/// learns of a loss; two slots, alternating like the headers, so a torn
/// update falls back to the previous record. The header area is apart from
/// the data area, so it usually survives what hit the records.
///
/// ```
/// magic u64 · generation u64 · epoch u64 · count u32 · 0 u32 ·
/// count × (lower u64 · upper u64) · crc32c u32 of everything before it
/// ```
struct LossRecord: Equatable {
    /// The log's generation: a record of an earlier log in the region never applies.
    var generation: UInt64
    /// Bumped by every update; the valid slot with the higher one wins.
    var epoch: UInt64
    /// Lost sequence numbers, coalesced, ascending.
    var ranges: [Range<UInt64>]

    static let magic: UInt64 = 0x0153_534F_4C58_4144 // "DAXLOSS\x01"
    static let fixed = 32
    /// The most ranges one slot holds.
    static let capacity = (LogLayout.lossSlotSize - fixed - 4) / 16

    var slot: Int { Int(epoch & 1) }

    /// `ranges` with the closest neighbours merged until at most `capacity`
    /// remain: the numbers between two merged ranges are then reported lost
    /// too (more than were, never fewer).
    static func fitted(_ ranges: [Range<UInt64>]) -> [Range<UInt64>] {
        var r = ranges
        while r.count > capacity {
            var best = 0
            for i in 1..<(r.count - 1) where r[i + 1].lowerBound - r[i].upperBound < r[best + 1].lowerBound - r[best].upperBound {
                best = i
            }
            r[best] = r[best].lowerBound..<r[best + 1].upperBound
            r.remove(at: best + 1)
        }
        return r
    }

    func encoded() -> [UInt8] {
        precondition(ranges.count <= Self.capacity, "fit the ranges first")
        let end = Self.fixed + 16 * ranges.count
        var b = [UInt8](repeating: 0, count: end + 4)
        b.withUnsafeMutableBytes { p in
            p.storeBytes(of: Self.magic.littleEndian, toByteOffset: 0, as: UInt64.self)
            p.storeBytes(of: generation.littleEndian, toByteOffset: 8, as: UInt64.self)
            p.storeBytes(of: epoch.littleEndian, toByteOffset: 16, as: UInt64.self)
            p.storeBytes(of: UInt32(ranges.count).littleEndian, toByteOffset: 24, as: UInt32.self)
            for (i, r) in ranges.enumerated() {
                p.storeBytes(of: r.lowerBound.littleEndian, toByteOffset: Self.fixed + 16 * i, as: UInt64.self)
                p.storeBytes(of: r.upperBound.littleEndian, toByteOffset: Self.fixed + 16 * i + 8, as: UInt64.self)
            }
            let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: p[0..<end]))
            p.storeBytes(of: crc.littleEndian, toByteOffset: end, as: UInt32.self)
        }
        return b
    }

    /// The record a slot holds, if it is one (checksum, count and ranges checked).
    static func decode(_ p: UnsafeRawBufferPointer) -> LossRecord? {
        guard p.count >= LogLayout.lossSlotSize,
              UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt64.self)) == magic else { return nil }
        let count = Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 24, as: UInt32.self)))
        guard count <= capacity else { return nil }
        let end = fixed + 16 * count
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: p[0..<end]))
        guard UInt32(littleEndian: p.loadUnaligned(fromByteOffset: end, as: UInt32.self)) == crc else { return nil }
        var ranges: [Range<UInt64>] = []
        for i in 0..<count {
            let lower = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: fixed + 16 * i, as: UInt64.self))
            let upper = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: fixed + 16 * i + 8, as: UInt64.self))
            // Ascending, disjoint and below 2^62, or not a record this code wrote.
            guard lower < upper, upper <= LogLayout.maximumSequence,
                  ranges.last.map({ $0.upperBound < lower }) ?? true else { return nil }
            ranges.append(lower..<upper)
        }
        return LossRecord(generation: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                          epoch: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                          ranges: ranges)
    }
}
