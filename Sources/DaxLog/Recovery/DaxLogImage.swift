import DaxMap

/// Recovery on a log region's bytes in memory, through the code `open` runs
/// (header choice, scan, record read): for the fuzzer and tests of crafted
/// logs. Package access: not API.
package enum DaxLogImage {
    /// What recovery finds in `bytes` (a whole region: header area and data
    /// area), and the records it reads back; or the typed error `open` throws.
    /// Reads touching a range of `failed` throw as poison does (`removed`: as
    /// past the end of a truncated file).
    package static func recover(_ bytes: UnsafeRawBufferPointer, failed: [(range: Range<Int>, removed: Bool)] = []) -> Result<(recovery: DaxLogRecovery, records: [DaxLogRecord]), DaxLogError> {
        guard bytes.count >= 2 * LogLayout.headerArea, bytes.count % 8 == 0 else {
            return .failure(DaxLogError(.invalidArgument, operation: "recover", message: "a log image of \(bytes.count) bytes"))
        }
        let capacity = UInt64(bytes.count - LogLayout.headerArea)
        let medium = LogImageMedium(bytes: bytes, failed: failed)
        var area = [UInt8](repeating: 0, count: LogLayout.headerArea)
        let header: LogHeader
        do throws(DaxLogError) {
            do {
                try withMutableBytes(&area) { (b: UnsafeMutableRawBufferPointer) throws(DaxError) in try medium.read(at: 0, into: b) }
            } catch {
                throw DaxLogError(.device, operation: "recover", offset: 0, underlying: error, message: "cannot read the log header")
            }
            let chosen = try withBytes(area) { (b: UnsafeRawBufferPointer) throws(DaxLogError) -> LogHeader? in
                try LogHeader.choose(in: b, capacity: capacity, creation: .never, operation: "recover", path: nil, offset: 0) { needed in
                    // As `open` says of a device shorter than the log the header describes.
                    needed > UInt64(bytes.count)
                        ? DaxLogError(.deviceTooSmall, operation: "recover", offset: 0,
                                      message: "the image is \(bytes.count) bytes and the log needs \(needed)")
                        : nil
                }
            }
            guard let chosen else { return .failure(DaxLogError(.notALog, operation: "recover", message: "no log")) }
            header = chosen
        } catch { return .failure(error) }
        let result = LogScanner(medium: medium, header: header, dataDeviceOffset: UInt64(LogLayout.headerArea)).scan()
        let loss = DaxLog.lossRecord(in: area, generation: header.generation)
        let plan = LogRecoveryPlan(header: header, scan: result, loss: loss, previous: nil,
                                   tailOffset: UInt64(LogLayout.headerArea) + result.tail % capacity)
        var lost = plan.lost
        let read = LogRecordReader(medium: medium, generation: header.generation, capacity: capacity)
            .records(result.entries, from: 0, lost: lost)
        for s in read.unreadable { lost = LogCore.adding(s..<(s + 1), to: lost) }
        let recovery = DaxLogRecovery(firstSequence: header.headSequence, nextSequence: plan.next, recordCount: result.entries.count,
                                      lost: lost, failedRanges: result.failed, stop: plan.stop, corrupted: result.corrupted,
                                      unaccounted: plan.unaccounted)
        return .success((recovery, read.records))
    }

    /// The bytes of a log header field or record field the fuzzer mutates:
    /// name, byte offset, width. A new field is one more line here.
    package static let headerFields: [(name: String, offset: Int, width: Int)] = LogHeader.fields
    package static let recordFields: [(name: String, offset: Int, width: Int)] = LogLayout.recordFields
    /// Where the header slots are, how long one is, where its checksum is (it covers the bytes before it).
    package static let slotOffsets = LogLayout.slotOffsets
    package static let headerChecksumOffset = LogHeader.crcOffset
    package static let headerArea = LogLayout.headerArea
    package static let recordHeaderSize = LogLayout.recordHeader
    /// The record checksum's seed for a log of `generation`.
    package static func recordSeed(_ generation: UInt64) -> UInt32 { LogLayout.seed(generation) }
}
