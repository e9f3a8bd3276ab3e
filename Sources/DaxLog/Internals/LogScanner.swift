import DaxMap

/// The recovery scan: walks the records from the head, in sequence order,
/// until the next place holds no record of this log; past a failed range it
/// searches for the next record of this log and reports the numbers between as lost.
struct LogScanner {
    let mapping: DaxMapping
    let header: LogHeader
    /// Device offset of the data area's first byte.
    let dataDeviceOffset: UInt64

    var capacity: UInt64 { header.capacity }

    struct Result {
        var entries: [LogCore.Entry] = []
        var tail: UInt64 = 0
        var next: UInt64 = 0
        var lost: [Range<UInt64>] = []
        var failed: [DaxFailedRange] = []
        var stop: DaxLogRecovery.StopReason = .cleanEnd
        /// A corrupted acknowledged record: appends must not overwrite what follows.
        var corrupted = false
    }

    /// Reads `count` bytes at data-area place `place` into `buffer`.
    private func read(_ place: UInt64, _ count: Int, _ buffer: inout [UInt8]) -> DaxError? {
        if buffer.count < count { buffer = [UInt8](repeating: 0, count: count) }
        do {
            try withMutableBytes(&buffer) { (b: UnsafeMutableRawBufferPointer) throws(DaxError) in
                try mapping.read(at: LogLayout.headerArea + Int(place), into: UnsafeMutableRawBufferPointer(rebasing: b[0..<count]))
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
            guard let h = buffer.withUnsafeBytes({ LogLayout.decodeHeader($0) }), h.sequence == expected,
                  UInt64(h.size) <= room else {
                // Not a record of ours here: the end, or a header torn mid-store.
                let blank = buffer.prefix(LogLayout.recordHeader).allSatisfy { $0 == 0 }
                if rawSequence == expected && !blank { r.stop = .tornTail(sequence: expected, deviceOffset: dataDeviceOffset + place) }
                break
            }
            if let e = read(place, h.size, &buffer) {
                guard let resumed = pastFailure(e, at: position, expected: expected, end: end, &r, &buffer) else { break }
                (position, expected) = resumed
                continue
            }
            guard buffer.withUnsafeBytes({ LogLayout.verify($0, h, generation: header.generation) }) else {
                // Torn (the last store) or corrupted (a later record is intact)?
                var probe = [UInt8]()
                let after = position + UInt64(h.size)
                let following = record(at: after, accepted: (expected + 1)..<(expected + 2), &probe) != nil
                    || record(at: after + (capacity - after % capacity), accepted: (expected + 1)..<(expected + 2), &probe) != nil
                if following {
                    r.stop = .checksumMismatch(sequence: expected, deviceOffset: dataDeviceOffset + place)
                    r.corrupted = true
                } else {
                    r.stop = .tornTail(sequence: expected, deviceOffset: dataDeviceOffset + place)
                }
                break scanning
            }
            switch h.type {
            case LogLayout.typePad:
                position += room
            case LogLayout.typeGap:
                let resume = buffer.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: LogLayout.recordHeader, as: UInt64.self)) }
                if resume > expected {
                    r.lost.append(expected..<resume)
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
        let kind: DaxFailedRange.Kind = e.code == .mediaFailure ? .poison : .removed
        let failed = DaxFailedRange(range: failedStart..<(failedStart + failedLength), kind: kind)
        r.failed.append(failed)
        // Resume at the end of the failed range when it is ahead in this lap, else 8 bytes on.
        var skip: UInt64 = 8
        let failedEnd = failedStart + failedLength
        if failedEnd > dataDeviceOffset + place, failedEnd - dataDeviceOffset <= capacity {
            skip = max(8, (failedEnd - dataDeviceOffset - place + 7) & ~7)
        }
        // Plausible numbers: no more records than fit in the rest of the lap.
        let accepted = expected..<(expected + capacity / 8 + 1)
        var candidate = position + skip
        while candidate < end {
            let p = candidate % capacity
            if capacity - p < UInt64(LogLayout.recordHeader) {
                candidate += capacity - p
                continue
            }
            if let h = record(at: candidate, accepted: accepted, &buffer) {
                if h.sequence > expected { r.lost.append(expected..<h.sequence) }
                return (candidate, h.sequence)
            }
            if let e2 = read(p, 8, &buffer) {
                // Another failed page: jump past it.
                let next = (e2.offset ?? (dataDeviceOffset + p)) + max(e2.length ?? 4096, 8)
                candidate += max(8, next > dataDeviceOffset + p ? (next - dataDeviceOffset - p + 7) & ~7 : 8)
                continue
            }
            candidate += 8
        }
        r.stop = .failedRange(failed, firstLost: expected)
        r.tail = min(position + skip, end)
        return nil
    }
}
