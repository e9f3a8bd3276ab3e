import Glibc

extension DaxDevice {
    /// Reads the whole device (or `range`) through guarded accesses and finds
    /// every failed range without crashing: poison (a real `BUS_MCEERR_AR`, or
    /// an injected media failure) and memory that is gone (`BUS_ADRERR`).
    /// Failed ranges are merged per kind and compared with ``badblocks``.
    ///
    /// The scrub maps the range itself (read-only, 4 KiB pages on DAX files so
    /// poison is reported per page), in windows, reading each through a small
    /// buffer; after a fault it skips the failed extent and reads on. Ranges the
    /// kernel reported failed to this process's other open mappings of the
    /// device are found too (the kernel "recovers" software poison of device-dax
    /// and fsdax pages, which then read fine, but it did report them). The
    /// holders of the device's other mappings are told what it found, through
    /// the device's dispatcher: ``DaxFailure/Kind/memoryFailureActionOptional``
    /// for poison (found, not consumed by them; a holder may also hear
    /// `memoryFailureActionRequired` of the scrub's own fault), `removed` for memory gone.
    ///
    /// - Parameters:
    ///   - range: device offsets, multiples of ``alignment`` (default: everything).
    ///   - clear: clear what was found (``clearErrors(in:)``); never without it.
    ///     A refusal is in the report (``DaxScrubReport/clearError``), not thrown.
    ///   - progressInterval: how often `progress` is called (and once at the end).
    ///   - progress: called on the scrubbing thread.
    /// - Throws: `.outOfRange`, `.misaligned`, the errors of ``map(offset:length:holder:options:)``,
    ///   `.deviceRemoved` / `.revoked` when the device goes during the scrub.
    public func scrub(
        range: Range<UInt64>? = nil, clear: Bool = false, progressInterval: Duration = .milliseconds(500),
        progress: ((DaxScrubProgress) -> Void)? = nil
    ) throws(DaxError) -> DaxScrubReport {
        let range = range ?? 0..<size
        try checkDeviceRange("scrub", range)
        let known = RangeLedger.coalesced(badblocks.map { $0.clamped(to: range) }.filter { !$0.isEmpty })
        let clock = ContinuousClock()
        let started = clock.now
        var scan = Scan(total: UInt64(range.count))
        var lastReport = started
        let report = { (scan: Scan) in
            progress?(DaxScrubProgress(bytesScanned: scan.scanned, totalBytes: scan.total,
                                       failuresFound: scan.merged.count, elapsed: clock.now - started))
        }
        let window = max(UInt64(256 << 20) / alignment * alignment, alignment)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Scan.chunk, alignment: 4096)
        defer { buffer.deallocate() }
        var windowStart = range.lowerBound
        while windowStart < range.upperBound {
            let windowEnd = min(windowStart + window, range.upperBound)
            // Each window has a mapping of its own; one whose failed extents
            // fill the handler's table is replaced from where the scrub is.
            var resume = windowStart
            while resume < windowEnd {
                let mapping = try map(offset: resume, length: windowEnd - resume, holder: nil,
                                      options: DaxMapping.Options(prefault: true, readOnly: true, largePages: false))
                defer { mapping.close() }
                resume = try scan.read(mapping, from: resume, to: windowEnd, buffer: buffer) {
                    if clock.now - lastReport >= progressInterval {
                        lastReport = clock.now
                        report($0)
                    }
                }
                if resume < windowEnd { resume = resume / alignment * alignment }
            }
            windowStart = windowEnd
        }
        // What the kernel already reported failed to this process's other mappings
        // of the device: software poison on device-dax and fsdax is "recovered" by
        // the kernel and reads fine again, but the kernel did say the page failed.
        for mapping in openMappings {
            for failed in mapping.failures where failed.kind != .pagesLost {
                let part = failed.range.clamped(to: range)
                if !part.isEmpty { scan.found.append(DaxFailedRange(range: part, kind: failed.kind)) }
            }
        }
        report(scan)
        // What the scrub found, its holders are told, through the dispatcher like
        // any failure: poison found but not consumed by them (action optional),
        // memory gone. Each holder hears of each range once per kind (the scrub's
        // own mapping is closed by now, so its faults may not have been told).
        if lifecycle == .alive {
            // In today's epoch: what the scrub found is still failed for every mapping open now.
            let epoch = DaxFailure.epochNow
            for f in scan.merged {
                dispatcher.tell(FailureCause(found: f.kind, epoch: epoch), f.range)
            }
        }
        let foundRanges = RangeLedger.coalesced(scan.found.map(\.range))
        var knownLedger = RangeLedger(), foundLedger = RangeLedger()
        for r in known { knownLedger.add(r) }
        for r in foundRanges { foundLedger.add(r) }
        let foundOnly = foundRanges.flatMap { knownLedger.missing(from: $0) }
        let knownOnly = known.flatMap { foundLedger.missing(from: $0) }
        let foundAndKnown = foundRanges.flatMap { f in
            knownLedger.ranges.map { $0.clamped(to: f) }.filter { !$0.isEmpty }
        }
        var cleared: [Range<UInt64>] = []
        var clearError: DaxError?
        if clear {
            for r in foundRanges {
                do throws(DaxError) { cleared += try clearErrors(in: r) } catch {
                    clearError = error
                    break
                }
            }
        }
        return DaxScrubReport(device: path, range: range, bytesScanned: min(scan.scanned, scan.total),
                              failedRanges: scan.merged, knownBadblocks: known, foundAndKnown: foundAndKnown,
                              foundOnly: foundOnly, knownOnly: knownOnly, cleared: RangeLedger.coalesced(cleared),
                              clearError: clearError, duration: clock.now - started)
    }

    /// A device range for an operation: non-empty, inside the device, aligned.
    func checkDeviceRange(_ operation: String, _ range: Range<UInt64>) throws(DaxError) {
        guard !range.isEmpty else {
            throw DaxError(.outOfRange, operation: operation, path: path, offset: range.lowerBound, length: 0,
                           message: range.lowerBound >= size
                               ? "offset \(range.lowerBound) is at or past the end of the device (\(size) bytes)"
                               : "the range is empty")
        }
        guard range.upperBound <= size else {
            throw DaxError(.outOfRange, operation: operation, path: path, offset: range.lowerBound,
                           length: range.upperBound - range.lowerBound,
                           message: "range [\(range.lowerBound), \(range.upperBound)) reaches past the end of the device (\(size) bytes)")
        }
        guard range.lowerBound % alignment == 0, range.upperBound % alignment == 0 else {
            throw DaxError(.misaligned, operation: operation, path: path, offset: range.lowerBound,
                           length: range.upperBound - range.lowerBound,
                           message: "offset and end must be multiples of the device alignment \(alignment)")
        }
    }
}

/// The running state of one scrub.
private struct Scan {
    static let chunk = 256 << 10 // stays in L2: the copy costs little over the loads
    let total: UInt64
    var scanned: UInt64 = 0
    var found: [DaxFailedRange] = []

    init(total: UInt64) { self.total = total }

    /// Failed ranges merged per kind, sorted.
    var merged: [DaxFailedRange] {
        var byKind: [DaxFailedRange.Kind: [Range<UInt64>]] = [:]
        for f in found { byKind[f.kind == .pagesLost ? .removed : f.kind, default: []].append(f.range) }
        return byKind.flatMap { kind, ranges in RangeLedger.coalesced(ranges).map { DaxFailedRange(range: $0, kind: kind) } }
            .sorted { $0.range.lowerBound < $1.range.lowerBound }
    }

    /// Reads [from, to) of `mapping`; returns where it stopped: `to`, or
    /// earlier when the mapping's failed-extent table is nearly full (map again from there).
    mutating func read(_ mapping: DaxMapping, from: UInt64, to: UInt64, buffer: UnsafeMutableRawBufferPointer,
                       tick: (Scan) -> Void) throws(DaxError) -> UInt64 {
        var pos = from
        var stop = to // a failure ahead: read up to it first
        var ahead: [DaxFailedRange] = []
        var faulted = false
        while pos < to {
            if faulted && ahead.isEmpty {
                // The handler's table of this mapping's failed extents nearly full: map afresh from here.
                faulted = false
                if mapping.failures.count >= DaxMapping.maximumFailedExtents - 8 {
                    tick(self)
                    return pos
                }
            }
            if pos >= stop, let next = ahead.first {
                ahead.removeFirst()
                note(next, from: &pos, to: to)
                stop = ahead.first?.range.lowerBound ?? to
                continue
            }
            let n = Int(min(UInt64(buffer.count), stop - pos))
            do {
                try mapping.read(at: Int(pos - mapping.offset), into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n]))
                pos += UInt64(n)
                scanned += UInt64(n)
            } catch {
                guard DaxFailedRange.Kind(thrownBy: error) != nil else { throw error }
                let failed = extent(of: error, in: mapping, at: pos, to: to)
                if failed.range.lowerBound > pos {
                    // Not read yet before it (a marked extent refused the whole chunk).
                    ahead.append(failed)
                    ahead.sort { $0.range.lowerBound < $1.range.lowerBound }
                    stop = min(stop, failed.range.lowerBound)
                } else {
                    note(failed, from: &pos, to: to)
                    stop = ahead.first?.range.lowerBound ?? to
                }
                faulted = true
            }
            tick(self)
        }
        return pos
    }

    private mutating func note(_ failed: DaxFailedRange, from pos: inout UInt64, to: UInt64) {
        found.append(failed)
        let end = max(min(failed.range.upperBound, to), pos + 1)
        scanned += end - pos
        pos = end
    }

    /// The failed extent behind an error at `pos`: the extent the handler
    /// marked there, else the error's own range, else the page.
    private func extent(of error: DaxError, in mapping: DaxMapping, at pos: UInt64, to: UInt64) -> DaxFailedRange {
        let at = error.offset ?? pos
        let page = UInt64(Syscalls.pageSize)
        let kind = DaxFailedRange.Kind(thrownBy: error) ?? .removed
        if let marked = mapping.failures.first(where: { $0.range.contains(at) || $0.range.lowerBound == at }) {
            let k: DaxFailedRange.Kind = marked.kind == .pagesLost ? kind : marked.kind
            return DaxFailedRange(range: marked.range.clamped(to: mapping.deviceRange), kind: k)
        }
        if let length = error.length, length > 0 {
            return DaxFailedRange(range: at..<min(at + length, mapping.deviceRange.upperBound), kind: kind)
        }
        let lo = at / page * page
        return DaxFailedRange(range: lo..<min(lo + page, mapping.deviceRange.upperBound), kind: kind)
    }
}
