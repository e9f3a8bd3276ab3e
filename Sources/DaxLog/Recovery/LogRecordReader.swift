import DaxMap

/// Reads live records back, each checked again (header, size, checksum)
/// against what recovery found at its place.
struct LogRecordReader<Medium: LogMedium> {
    let medium: Medium
    let generation: UInt64
    let capacity: UInt64

    /// The records of `entries` from sequence `from` on (below `below`: the
    /// appends still in flight are not acknowledged yet) that are not `lost`,
    /// and the sequence numbers of those that no longer read back intact.
    func records(_ entries: [LogCore.Entry], from: UInt64, below: UInt64 = .max,
                 lost: [Range<UInt64>]) -> (records: [DaxLogRecord], unreadable: [UInt64]) {
        var out: [DaxLogRecord] = []
        var buffer = [UInt8]()
        var unreadable: [UInt64] = []
        for e in entries where e.sequence >= from && e.sequence < below && !lost.contains(where: { $0.contains(e.sequence) }) {
            if let r = record(e, buffer: &buffer) { out.append(r) } else { unreadable.append(e.sequence) }
        }
        return (out, unreadable)
    }

    /// The record of `e`, or nil when it no longer reads back intact
    /// (`buffer`: scratch, grown as needed, kept for the next call).
    func record(_ e: LogCore.Entry, buffer: inout [UInt8]) -> DaxLogRecord? {
        if buffer.count < e.size { buffer = [UInt8](repeating: 0, count: e.size) }
        do {
            try withMutableBytes(&buffer) { (b: UnsafeMutableRawBufferPointer) throws(DaxError) in
                try medium.read(at: LogLayout.headerArea + Int(e.position % capacity), into: UnsafeMutableRawBufferPointer(rebasing: b[0..<e.size]))
            }
        } catch {
            return nil
        }
        let ok = buffer.withUnsafeBytes { b -> [UInt8]? in
            guard let h = LogLayout.decodeHeader(b), h.sequence == e.sequence, h.size == e.size,
                  LogLayout.verify(b, h, generation: generation) else { return nil }
            return Array(b[LogLayout.recordHeader..<(LogLayout.recordHeader + h.length)])
        }
        return ok.map { DaxLogRecord(sequence: e.sequence, bytes: $0) }
    }
}
