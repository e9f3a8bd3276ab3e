/// The on-media format of a log region.
///
/// ```
/// [0, 4096)        two header slots (at 0 and 2048), 128 bytes each (64 in
///                  version 1); the valid one with the higher epoch wins, so a
///                  torn header update falls back to the previous one; two loss
///                  record slots (at 256 and 2304, see `LossRecord`), the same way
/// [4096, length)   the data area, a circle of records at 8-byte alignment
/// record           crc32c u32 · length u32 · sequence u64 · type u32 · batch index u16 ·
///                  batch rest u16 · bytes · 0-padding to 8
/// ```
/// The batch fields say where a record stands in its append: its index and how
/// many records of the same append follow it (both saturate at 65535; a single
/// record is 0, 0). Recovery needs them to tell a batch the power cut in the
/// middle (an unacknowledged tail, whose later records may have reached the
/// media before an earlier one) from a corrupted acknowledged record.
/// The record checksum covers everything after its own field, seeded with the
/// log's generation (chosen at format), so records of an earlier log in the
/// same region never pass. A record is valid only with the sequence number
/// expected at its place: records of the previous lap have smaller numbers.
/// Positions are logical (they only grow); the place in the data area is
/// `position % capacity`. Records never straddle the end of the data area: a
/// pad record (or, with less than a header left, nothing) fills to the end.
enum LogLayout {
    static let headerArea = 4096
    static let slotOffsets = [0, 2048]
    static let slotSize = 128
    static let magic: UInt64 = 0x0001_474F_4C58_4144 // "DAXLOG\x01\0"
    /// 2: the header's sequence lease, the loss record, skip records. A
    /// version-1 log opens and is upgraded by its first writer.
    static let version: UInt32 = 2
    /// The two loss-record slots (each `lossSlotSize` bytes).
    static let lossSlotOffsets = [256, 2304]
    static let lossSlotSize = 1792
    static let recordHeader = 24
    static let typeData: UInt32 = 1
    /// Fills to the end of the data area; the next record is at its start.
    static let typePad: UInt32 = 2
    /// Sequence numbers lost before this point (its 8 bytes: the next sequence).
    static let typeGap: UInt32 = 3
    /// Sequence numbers skipped on recovery (its 8 bytes: the next sequence):
    /// below the lease, so they may have been handed out, but no record holds
    /// them and no failure recorded them lost (version 2).
    static let typeSkip: UInt32 = 4
    /// The largest record payload (so a length is never mistaken for a huge one).
    static let maximumPayload = 1 << 30
    /// Bounds of a header's or record's numbers: no log reaches them (2^62 is
    /// a record a nanosecond for 146 years), and below them every sum recovery
    /// makes (a position plus a lap, a sequence plus the records of a lap) fits
    /// in 64 bits. A field past one is corruption, however good its checksum.
    static let maximumSequence: UInt64 = 1 << 62
    static let maximumPosition: UInt64 = 1 << 62
    /// The most bytes of a batch encoded before they are stored (one guarded copy).
    static let stagingRun = 256 << 10

    /// Every field of a record header (name, byte offset, width), and a gap's
    /// payload, for the fuzzer's mutations.
    static let recordFields: [(name: String, offset: Int, width: Int)] = [
        ("crc", 0, 4), ("length", 4, 4), ("sequence", 8, 8), ("type", 16, 4), ("batchIndex", 20, 2), ("batchRest", 22, 2),
        ("gapResume", recordHeader, 8),
    ]

    static func recordSize(_ payload: Int) -> Int { (recordHeader + payload + 7) & ~7 }

    /// Encodes a record into `buffer` (at least `recordSize(bytes.count)` bytes).
    static func encode(type: UInt32, sequence: UInt64, bytes: UnsafeRawBufferPointer, generation: UInt64,
                       batch: Batch = .single, into buffer: UnsafeMutableRawBufferPointer) {
        let size = recordSize(bytes.count)
        buffer.storeBytes(of: UInt32(bytes.count).littleEndian, toByteOffset: 4, as: UInt32.self)
        buffer.storeBytes(of: sequence.littleEndian, toByteOffset: 8, as: UInt64.self)
        buffer.storeBytes(of: type.littleEndian, toByteOffset: 16, as: UInt32.self)
        buffer.storeBytes(of: batch.index.littleEndian, toByteOffset: 20, as: UInt16.self)
        buffer.storeBytes(of: batch.rest.littleEndian, toByteOffset: 22, as: UInt16.self)
        if let src = bytes.baseAddress, bytes.count > 0 {
            (buffer.baseAddress! + recordHeader).copyMemory(from: src, byteCount: bytes.count)
        }
        for i in (recordHeader + bytes.count)..<size { buffer[i] = 0 }
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[4..<size]), seed: seed(generation))
        buffer.storeBytes(of: crc.littleEndian, toByteOffset: 0, as: UInt32.self)
    }

    static func seed(_ generation: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: generation ^ (generation >> 32)) }

    /// Where a record stands in its append (saturating at 65535).
    struct Batch: Sendable {
        var index: UInt16
        var rest: UInt16
        static let single = Batch(index: 0, rest: 0)

        init(index: UInt16, rest: UInt16) {
            self.index = index
            self.rest = rest
        }

        /// Record `i` of an append of `count` records.
        init(_ i: Int, of count: Int) {
            index = UInt16(min(i, 0xFFFF))
            rest = UInt16(min(count - 1 - i, 0xFFFF))
        }
    }

    /// A decoded record header (not yet checksum-verified).
    struct RecordHeader {
        var crc: UInt32
        var length: Int
        var sequence: UInt64
        var type: UInt32
        var batch: Batch
        var size: Int { LogLayout.recordSize(length) }
    }

    static func decodeHeader(_ b: UnsafeRawBufferPointer) -> RecordHeader? {
        guard b.count >= recordHeader else { return nil }
        let length = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let type = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
        guard (typeData...typeSkip).contains(type), length <= UInt32(maximumPayload) else { return nil }
        return RecordHeader(crc: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 0, as: UInt32.self)),
                            length: Int(length),
                            sequence: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                            type: type,
                            batch: Batch(index: UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 20, as: UInt16.self)),
                                         rest: UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 22, as: UInt16.self))))
    }

    /// Whether a whole record (header and padded bytes) passes its checksum.
    static func verify(_ record: UnsafeRawBufferPointer, _ header: RecordHeader, generation: UInt64) -> Bool {
        guard record.count >= header.size else { return false }
        return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: record[4..<header.size]), seed: seed(generation)) == header.crc
    }
}
