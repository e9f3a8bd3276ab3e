import DaxMap

/// Recovery on a log region's bytes in memory, through the code `open` runs
/// (header choice, scan, record read): for the fuzzer and tests of crafted
/// logs. Package access: not API.
package enum DaxLogImage {
    /// What recovery finds in `bytes` (a whole region: header area and data
    /// area), and the records it reads back; or the typed error `open` throws.
    package static func recover(_ bytes: UnsafeRawBufferPointer) -> Result<(recovery: DaxLogRecovery, records: [DaxLogRecord]), DaxLogError> {
        guard bytes.count >= 2 * LogLayout.headerArea, bytes.count % 8 == 0 else {
            return .failure(DaxLogError(.invalidArgument, operation: "recover", message: "a log image of \(bytes.count) bytes"))
        }
        let capacity = UInt64(bytes.count - LogLayout.headerArea)
        let header: LogHeader
        do throws(DaxLogError) {
            guard let h = try LogHeader.choose(in: UnsafeRawBufferPointer(rebasing: bytes[0..<LogLayout.headerArea]), capacity: capacity,
                                               creation: .never, operation: "recover", path: nil, offset: 0)
            else { return .failure(DaxLogError(.notALog, operation: "recover", message: "no log")) }
            header = h
        } catch { return .failure(error) }
        let medium = LogImageMedium(bytes: bytes)
        let result = LogScanner(medium: medium, header: header, dataDeviceOffset: UInt64(LogLayout.headerArea)).scan()
        var lost: [Range<UInt64>] = []
        for r in result.lost { lost = LogCore.adding(r, to: lost) }
        let read = LogRecordReader(medium: medium, generation: header.generation, capacity: capacity)
            .records(result.entries, from: 0, lost: lost)
        for s in read.unreadable { lost = LogCore.adding(s..<(s + 1), to: lost) }
        let recovery = DaxLogRecovery(firstSequence: header.headSequence, nextSequence: result.next, recordCount: result.entries.count,
                                      lost: lost, failedRanges: result.failed, stop: result.stop, corrupted: result.corrupted)
        return .success((recovery, read.records))
    }

    /// The bytes of a log header field or record field the fuzzer mutates:
    /// name, byte offset, width. A new field is one more line here.
    package static let headerFields: [(name: String, offset: Int, width: Int)] = LogHeader.fields
    package static let recordFields: [(name: String, offset: Int, width: Int)] = LogLayout.recordFields
    /// Where the header slots are, how long one is, where its checksum is (it covers the bytes before it).
    package static let slotOffsets = LogLayout.slotOffsets
    package static let headerChecksumOffset = LogHeader.checksumOffset
    package static let headerArea = LogLayout.headerArea
    package static let recordHeaderSize = LogLayout.recordHeader
    /// The record checksum's seed for a log of `generation`.
    package static func recordSeed(_ generation: UInt64) -> UInt32 { LogLayout.seed(generation) }
}
