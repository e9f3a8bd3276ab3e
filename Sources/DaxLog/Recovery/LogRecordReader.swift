import DaxMap

/// Reads live records back, each checked again (header, size, checksum)
/// against what recovery found at its place.
struct LogRecordReader<Medium: LogMedium> {
    let medium: Medium
    let generation: UInt64
    let capacity: UInt64

    /// The records of `entries` from sequence `from` on that are not `lost`,
    /// and the sequence numbers of those that no longer read back intact.
    func records(_ entries: [LogCore.Entry], from: UInt64, lost: [Range<UInt64>]) -> (records: [DaxLogRecord], unreadable: [UInt64]) {
        var out: [DaxLogRecord] = []
        var buffer = [UInt8]()
        var unreadable: [UInt64] = []
        for e in entries where e.sequence >= from && !lost.contains(where: { $0.contains(e.sequence) }) {
            if buffer.count < e.size { buffer = [UInt8](repeating: 0, count: e.size) }
            do {
                try withMutableBytes(&buffer) { (b: UnsafeMutableRawBufferPointer) throws(DaxError) in
                    try medium.read(at: LogLayout.headerArea + Int(e.position % capacity), into: UnsafeMutableRawBufferPointer(rebasing: b[0..<e.size]))
                }
            } catch {
                unreadable.append(e.sequence)
                continue
            }
            let ok = buffer.withUnsafeBytes { b -> [UInt8]? in
                guard let h = LogLayout.decodeHeader(b), h.sequence == e.sequence, h.size == e.size,
                      LogLayout.verify(b, h, generation: generation) else { return nil }
                return Array(b[LogLayout.recordHeader..<(LogLayout.recordHeader + h.length)])
            }
            if let bytes = ok { out.append(DaxLogRecord(sequence: e.sequence, bytes: bytes)) } else { unreadable.append(e.sequence) }
        }
        return (out, unreadable)
    }
}
