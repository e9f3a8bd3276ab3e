import DaxMap

/// The recovery scan: walks the records from the head, in sequence order,
/// until the next place holds no record of this log; past a failed range it
/// searches for the next record of this log and reports the numbers between as lost.
struct LogScanner<Medium: LogMedium> {
    let medium: Medium
    let header: LogHeader
    /// Device offset of the data area's first byte.
    let dataDeviceOffset: UInt64

    var capacity: UInt64 { header.capacity }

    struct Result {
        var entries: [LogCore.Entry] = []
        var tail: UInt64 = 0
        var next: UInt64 = 0
        var lost: [Range<UInt64>] = []
        /// Numbers a skip record stepped over: below a lease, in no record, recorded lost by no one.
        var skipped: [Range<UInt64>] = []
        var failed: [DaxFailedRange] = []
        var stop: DaxLogRecovery.StopReason = .cleanEnd
        /// Sequence numbers whose records the media corrupted (a later record is intact); also in `lost`.
        var corrupted: [Range<UInt64>] = []
        /// Positions of the records of an append the power cut short, its torn
        /// record first: later ones may have reached the media before it. They
        /// are erased (last first) before the log appends over them, or a later
        /// scan could take one for a record of its own.
        var stale: [UInt64] = []
    }

    /// How far past a record that is not intact recovery looks for the next one.
    static var resyncWindow: UInt64 { 1 << 20 }

    /// Reads `count` bytes at data-area place `place` into `buffer`.
    private func read(_ place: UInt64, _ count: Int, _ buffer: inout [UInt8]) -> DaxError? {
        if buffer.count < count { buffer = [UInt8](repeating: 0, count: count) }
        do {
            try withMutableBytes(&buffer) { (b: UnsafeMutableRawBufferPointer) throws(DaxError) in
                try medium.read(at: LogLayout.headerArea + Int(place), into: UnsafeMutableRawBufferPointer(rebasing: b[0..<count]))
            }
            return nil
        } catch { return error }
    }

    /// The valid record of this log at logical position `position` with a
    /// sequence number in `accepted`, if there is one.
    private func record(at position: UInt64, accepted: Range<UInt64>, _ buffer: inout [UInt8]) -> LogLayout.RecordHeader? {
        let place = position % capacity
        let room = capacity - place
        guard room >= UInt64(LogLayout.recordHeader), read(place, LogLayout.recordHeader, &buffer) == nil,
              let h = buffer.withUnsafeBytes({ LogLayout.decodeHeader($0) }), accepted.contains(h.sequence),
              UInt64(h.size) <= room, read(place, h.size, &buffer) == nil,
              buffer.withUnsafeBytes({ LogLayout.verify($0, h, generation: header.generation) })
        else { return nil }
        return h
    }

    func scan() -> Result {
        var r = Result()
        var position = header.headPosition
        var expected = header.headSequence
        let end = header.headPosition + capacity
        var buffer = [UInt8](repeating: 0, count: 4096)
        scanning: while position < end {
            let place = position % capacity
            let room = capacity - place
            if room < UInt64(LogLayout.recordHeader) {
                position += room
                continue
            }
            if let e = read(place, LogLayout.recordHeader, &buffer) {
                guard let resumed = pastFailure(e, at: position, expected: expected, end: end, &r, &buffer) else { break }
                (position, expected) = resumed
                continue
            }
            let rawSequence = buffer.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
            let decoded = buffer.withUnsafeBytes { LogLayout.decodeHeader($0) }
            guard let h = decoded, h.sequence == expected, UInt64(h.size) <= room else {
                // Not a record of ours here: the end (zeros, or an earlier lap's record),
                // a header torn mid-store, or a corrupted one with records after it.
                let blank = buffer.prefix(LogLayout.recordHeader).allSatisfy { $0 == 0 }
                let earlierLap = decoded.map { $0.sequence < expected && UInt64($0.size) <= room } == true
                    && record(at: position, accepted: 0..<expected, &buffer) != nil
                if blank || earlierLap { break }
                guard let resumed = resync(at: position, expected: expected, torn: rawSequence == expected, end: end, &r, &buffer)
                else { break }
                (position, expected) = resumed
                continue
            }
            if let e = read(place, h.size, &buffer) {
                guard let resumed = pastFailure(e, at: position, expected: expected, end: end, &r, &buffer) else { break }
                (position, expected) = resumed
                continue
            }
            guard buffer.withUnsafeBytes({ LogLayout.verify($0, h, generation: header.generation) }) else {
                // Torn (the last append) or corrupted (a later append is intact)?
                guard let resumed = resync(at: position, expected: expected, torn: true, end: end, &r, &buffer) else { break }
                (position, expected) = resumed
                continue
            }
            switch h.type {
            case LogLayout.typePad:
                position += room
            case LogLayout.typeGap, LogLayout.typeSkip:
                let resume = buffer.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: LogLayout.recordHeader, as: UInt64.self)) }
                guard h.length == 8, resume <= LogLayout.maximumSequence else {
                    // A gap no writer could have written (its checksum passes, its
                    // fields do not): the same as a record that fails its checksum.
                    guard let resumed = resync(at: position, expected: expected, torn: true, end: end, &r, &buffer) else { break scanning }
                    (position, expected) = resumed
                    continue
                }
                if resume > expected {
                    if h.type == LogLayout.typeGap { r.lost.append(expected..<resume) } else { r.skipped.append(expected..<resume) }
                    expected = resume
                }
                position += UInt64(h.size)
            default:
                r.entries.append(.init(sequence: expected, position: position, size: h.size))
                expected += 1
                position += UInt64(h.size)
            }
        }
        if case .failedRange = r.stop {} else { r.tail = min(position, end) }
        r.next = expected
        return r
    }

    /// A read at `position` failed: record the failed range, then look for the
    /// next record of this log past it. Returns where to go on, or nil (the scan stops).
    private func pastFailure(_ e: DaxError, at position: UInt64, expected: UInt64, end: UInt64,
                             _ r: inout Result, _ buffer: inout [UInt8]) -> (UInt64, UInt64)? {
        let place = position % capacity
        let failedStart = e.offset ?? (dataDeviceOffset + place)
        let failedLength = max(e.length ?? 4096, 1)
        let kind = DaxFailedRange.Kind(thrownBy: e) ?? .removed
        let failed = DaxFailedRange(range: failedStart..<(failedStart + failedLength), kind: kind)
        r.failed.append(failed)
        // Resume at the end of the failed range when it is ahead in this lap, else 8 bytes on.
        var skip: UInt64 = 8
        let failedEnd = failedStart + failedLength
        if failedEnd > dataDeviceOffset + place, failedEnd - dataDeviceOffset <= capacity {
            skip = max(8, (failedEnd - dataDeviceOffset - place + 7) & ~7)
        }
        // Plausible numbers: no more records than fit in the rest of the lap.
        if let (candidate, h) = firstRecord(from: position + skip, accepted: expected..<(expected + capacity / 8 + 1),
                                            limit: end, &buffer) {
            if h.sequence > expected { r.lost.append(expected..<h.sequence) }
            return (candidate, h.sequence)
        }
        r.stop = .failedRange(failed, firstLost: expected)
        r.tail = min(position + skip, end)
        return nil
    }

    /// The first valid record of this log from logical position `start` on
    /// (before `limit`) with a sequence number in `accepted`, stepping over failed pages.
    private func firstRecord(from start: UInt64, accepted: Range<UInt64>, limit: UInt64,
                             _ buffer: inout [UInt8]) -> (UInt64, LogLayout.RecordHeader)? {
        // Candidates are decoded from 64 KiB read at once; only a plausible
        // header costs a read of its record and a checksum.
        let header = UInt64(LogLayout.recordHeader)
        var chunk = [UInt8](), chunkPlace: UInt64 = 0, chunkCount: UInt64 = 0
        var candidate = start
        while candidate < limit {
            let p = candidate % capacity
            if capacity - p < header {
                candidate += capacity - p
                continue
            }
            if p < chunkPlace || p + header > chunkPlace + chunkCount {
                var n = min(64 << 10, capacity - p)
                while true {
                    guard let e = read(p, Int(n), &chunk) else { break }
                    let failed = e.offset ?? (dataDeviceOffset + p)
                    if failed >= dataDeviceOffset + p + header {
                        n = (failed - dataDeviceOffset - p) & ~7 // read up to the failed page
                        continue
                    }
                    n = 0
                    // A failed page here: jump past it.
                    let next = failed + max(e.length ?? 4096, 8)
                    candidate += max(8, next > dataDeviceOffset + p ? (next - dataDeviceOffset - p + 7) & ~7 : 8)
                    break
                }
                guard n > 0 else { continue }
                (chunkPlace, chunkCount) = (p, n)
            }
            let h = chunk.withUnsafeBytes { LogLayout.decodeHeader(UnsafeRawBufferPointer(rebasing: $0[Int(p - chunkPlace)...])) }
            if let h, accepted.contains(h.sequence), UInt64(h.size) <= capacity - p,
               let verified = record(at: candidate, accepted: accepted, &buffer) {
                return (candidate, verified)
            }
            candidate += 8
        }
        return nil
    }

    /// The record `sequence` right after the record `h` at `position` (or, past
    /// a pad, at the start of the next lap), and the pad's position if one was skipped.
    private func record(after position: UInt64, _ h: LogLayout.RecordHeader, sequence: UInt64,
                        _ buffer: inout [UInt8]) -> (position: UInt64, header: LogLayout.RecordHeader, pad: UInt64?)? {
        let after = position + UInt64(h.size)
        let accepted = sequence..<(sequence + 1)
        if let n = record(at: after, accepted: accepted, &buffer) { return (after, n, nil) }
        let lap = after + (capacity - after % capacity)
        guard lap != after, let n = record(at: lap, accepted: accepted, &buffer) else { return nil }
        return (lap, n, capacity - after % capacity >= UInt64(LogLayout.recordHeader) ? after : nil)
    }

    /// The bytes at `position` should be record `expected` and are not intact
    /// (`torn`: they claim to be). A later record of this log nearby decides:
    /// none — a torn tail (when `torn`) or the end; one of the same append,
    /// which no later append follows — the power cut that append short, a torn
    /// tail whose stale records are to be erased; otherwise the record was
    /// acknowledged and the media corrupted it: its numbers are lost, the scan
    /// goes on. Returns where to go on, or nil (the scan stops).
    private func resync(at position: UInt64, expected: UInt64, torn: Bool, end: UInt64,
                        _ r: inout Result, _ buffer: inout [UInt8]) -> (UInt64, UInt64)? {
        let place = position % capacity
        let window = min(capacity, Self.resyncWindow)
        guard let (found, q) = firstRecord(from: position + 8, accepted: (expected + 1)..<(expected + 1 + window / 8),
                                           limit: min(position + window, end), &buffer) else {
            if torn { r.stop = .tornTail(sequence: expected, deviceOffset: dataDeviceOffset + place) }
            return nil
        }
        // Of the same append as `expected` (its index reaches back to it)?
        if q.batch.index == 0xFFFF || UInt64(q.batch.index) >= q.sequence - expected {
            var chain = [position, found], at = found, last = q
            var complete = true
            while last.batch.rest > 0 {
                guard let n = record(after: at, last, sequence: last.sequence + 1, &buffer) else {
                    complete = false
                    break
                }
                if let pad = n.pad { chain.append(pad) }
                chain.append(n.position)
                (at, last) = (n.position, n.header)
            }
            let followed = complete && record(after: at, last, sequence: last.sequence + 1, &buffer) != nil
            if !followed {
                r.stop = .tornTail(sequence: expected, deviceOffset: dataDeviceOffset + place)
                r.stale = chain
                return nil
            }
        }
        r.lost.append(expected..<q.sequence)
        r.corrupted.append(expected..<q.sequence)
        return (found, q.sequence)
    }
}
