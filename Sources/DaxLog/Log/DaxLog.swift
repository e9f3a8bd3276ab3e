import DaxMap
internal import DaxMapSync

/// A crash-consistent record log on a DAX device (or a range of one).
///
/// - ``append(_:)-([UInt8])`` returns a record's sequence number only once the record is
///   persistent at the device's granularity (`clwb`+`sfence`, or `msync`);
///   ``append(contentsOf:)`` makes a batch persistent with one persist (group commit).
/// - Every record is checksummed (CRC-32C, the SSE4.2 instruction where the CPU
///   has it), so a torn or corrupted record is never returned as good.
/// - Opening runs a recovery scan (``recovery``): the records in order, why the
///   scan stopped, and the sequence numbers lost to failed ranges.
/// - The log is the `DaxHolder` of its mapping: on `preRemove` it seals and
///   releases; on a media failure it marks the records concerned lost
///   (``lostSequences``); ``reattach(to:)`` after the device is back recovers
///   and continues after the last good record, with the lost numbers on record.
/// - ``discard(upTo:)`` frees the space of records (a checkpoint); the data
///   area is a circle, so a write-ahead log never runs out of device.
/// - Thread-safe: appends from several threads or tasks share persists (group
///   commit): the appends queued while a persist runs are stored next as one
///   batch and persisted once; no append waits for more than the persist in
///   flight when it queued plus the one covering it. Sequence numbers are
///   dense and unique; an append returns only once its records are persistent.
/// - One writer a region: a writable log owns its region from ``open(device:offset:length:options:)``
///   or ``reattach(to:)`` to ``close()`` or its seal, across threads and processes,
///   whatever path reached the device; a second writer gets ``DaxLogError/Code/inUse``
///   naming the owner. Read-only logs take no ownership.
public final class DaxLog: DaxHolder, Sendable, CustomStringConvertible {
    /// How to open a log.
    public struct Options: Sendable, Hashable {
        /// Whether opening may write a new, empty log.
        public enum Creation: Sendable, Hashable {
            /// Open an existing log only; anything else is ``DaxLogError/Code/notALog``.
            case never
            /// Make a new log when the header area is all zeros (a fresh file or
            /// device); a region holding anything else is refused, never overwritten.
            case ifBlank
            /// Always make a new, empty log: whatever the region held is lost.
            case overwrite
        }

        /// Whether opening may write a new log (default `.ifBlank`).
        public var creation: Creation
        /// Open without writing: recovery and reads only; appends throw `.readOnly`.
        public var readOnly: Bool
        /// How the region is mapped (its fault policy, prefaulting...).
        public var mapping: DaxMapping.Options

        /// Options with the defaults: create on a blank region only, writable, the default mapping.
        public init(creation: Creation = .ifBlank, readOnly: Bool = false, mapping: DaxMapping.Options = .init()) {
            self.creation = creation
            self.readOnly = readOnly
            self.mapping = mapping
        }
    }

    /// Where a log is in its life.
    public enum State: String, Sendable, Hashable, CustomStringConvertible {
        /// Appends work.
        case open
        /// Sealed for a removal: the mapping was released; ``reattach(to:)`` once the device is back.
        case sealed
        /// A store or persist failed, or recovery found a corrupted record:
        /// appends are refused until ``reattach(to:)``.
        case failed
        /// Closed by its owner.
        case closed

        public var description: String { rawValue }
    }

    /// The device offset of the region.
    public let offset: UInt64
    /// Bytes of the region (header and data area).
    public let length: UInt64
    /// The options it was opened with.
    public let options: Options
    /// Bytes of the data area, where records go.
    public var capacity: Int { Int(length) - LogLayout.headerArea }
    /// The largest record one append takes.
    public var maximumRecordSize: Int { min(capacity - LogLayout.recordHeader - 8, LogLayout.maximumPayload) }
    /// Whether CRC-32C runs on the SSE4.2 instruction (else the portable table).
    public static var checksumUsesHardware: Bool { CRC32C.usesHardware }

    let core: Locked<LogCore>
    /// Held by the leader of a group commit while it stores and persists the
    /// group (see ``appendRecords(_:)``); taken before ``core``, never while
    /// holding it. Its value is the leader's group (kept for its storage).
    let commitLock = Locked<[PendingPointer]>([])
    /// Appends waiting for the next group (taken alone, never around another lock).
    let queue = Locked<[PendingPointer]>([])
    /// swift-metrics counters and the persist timer (NOOP without a backend).
    let metrics = LogMetrics()

    private init(device: DaxDevice, offset: UInt64, length: UInt64, options: Options) {
        self.offset = offset
        self.length = length
        self.options = options
        self.core = Locked(LogCore(device: device))
    }

    /// Opens the log in `length` bytes of `device` from `offset` (the whole
    /// device by default), making one if ``Options/creation`` allows, and runs
    /// the recovery scan (see ``recovery``).
    ///
    /// - Throws: `.invalidArgument` (region too small, misaligned, past the
    ///   end), `.notALog` (the region holds something else: it is left as it
    ///   was), `.corruptHeader` (both slots fail their checksum, or the newest
    ///   holds a field no writer makes), `.unsupportedVersion` (written by a newer
    ///   DaxLog), `.deviceTooSmall` (the device is shorter than the log there:
    ///   a truncated file; the message gives both sizes), `.inUse` (another
    ///   writable log owns an overlapping region: ``DaxLogError/owner``),
    ///   `.device` (mapping or reading failed).
    public static func open(device: DaxDevice, offset: UInt64 = 0, length: UInt64? = nil,
                            options: Options = Options()) throws(DaxLogError) -> DaxLog {
        let length = length ?? (device.size > offset ? device.size - offset : 0)
        let minimum = UInt64(LogLayout.headerArea) * 2
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow, end <= device.size else {
            throw DaxLogError(.invalidArgument, operation: "open", path: device.path, offset: offset,
                              message: "the region of \(length) bytes at \(offset) reaches past the end of the device (\(device.size) bytes)")
        }
        guard length >= minimum, length <= UInt64(Int.max / 2) else {
            throw DaxLogError(.invalidArgument, operation: "open", path: device.path, offset: offset,
                              message: "a log needs at least \(minimum) bytes (a 4 KiB header and a data area); the region has \(length)")
        }
        guard offset % device.alignment == 0, length % device.alignment == 0 else {
            throw DaxLogError(.invalidArgument, operation: "open", path: device.path, offset: offset,
                              message: "offset \(offset) and length \(length) must be multiples of the device alignment \(device.alignment)")
        }
        let log = DaxLog(device: device, offset: offset, length: length, options: options)
        try log.core.withLock { (c: inout LogCore) throws(DaxLogError) in
            try log.attach(&c, device: device, operation: "open", creation: options.creation)
        }
        return log
    }

    public var description: String {
        core.withLock { c in
            "log on \(c.device.path) [\(offset), \(offset + length)) \(c.state): sequences \(c.header.headSequence)..<\(c.next)"
        }
    }

    // MARK: - State

    /// The current state.
    public var state: State { core.withLock { $0.state } }
    /// What the last recovery scan (at open or reattach) found.
    public var recovery: DaxLogRecovery { core.withLock { $0.recovery } }
    /// The sequence number the next append gets.
    public var nextSequence: UInt64 { core.withLock { $0.next } }
    /// The first live sequence number (earlier ones were discarded).
    public var firstSequence: UInt64 { core.withLock { $0.header.headSequence } }
    /// Sequence numbers known lost: found so by recovery, or marked since
    /// because a failure (poison, removed memory, pages lost) hit their records
    /// (by the failing append itself before it throws, or by the device's notice).
    public var lostSequences: [Range<UInt64>] { core.withLock { $0.lost } }
    /// Bytes of the data area in use by live records.
    public var usedBytes: Int { core.withLock { Int($0.tail - $0.header.headPosition) } }
    /// Every failure the device told this log about, oldest first (one raised
    /// for an attachment before the last ``reattach(to:)`` and told late is
    /// listed too, but changes nothing: the reattach's recovery covered it).
    public var failuresReceived: [DaxFailure] { core.withLock { $0.failures } }
    /// The device the log is on now (a new one after ``reattach(to:)``).
    public var device: DaxDevice { core.withLock { $0.device } }

    // MARK: - Appending

    /// Appends one record; returns its sequence number once it is persistent.
    /// The bytes go straight from `bytes` to the device (no copy in between).
    /// Appends from several threads share persists (group commit): each
    /// returns after the persist that covers its record, and waits at most
    /// for the one persist running when it queued.
    /// - Throws: `.full` (discard first), `.invalidArgument` (larger than
    ///   ``maximumRecordSize``), `.sealed`, `.failed` (with the device error;
    ///   nothing is acknowledged; ``DaxLogError/lost`` holds the numbers the
    ///   failure took, already in ``lostSequences`` and on the media), `.readOnly`, `.closed`.
    @discardableResult
    public func append(_ bytes: UnsafeRawBufferPointer) throws(DaxLogError) -> UInt64 {
        var source = bytes
        return try withUnsafePointer(to: &source) { (p: UnsafePointer<UnsafeRawBufferPointer>) throws(DaxLogError) -> UInt64 in
            try appendRecords(UnsafeBufferPointer(start: p, count: 1)).lowerBound
        }
    }

    /// Appends one record; returns its sequence number once it is persistent.
    @discardableResult
    public func append(_ bytes: [UInt8]) throws(DaxLogError) -> UInt64 {
        try withBytes(bytes) { (b: UnsafeRawBufferPointer) throws(DaxLogError) -> UInt64 in try append(b) }
    }

    /// Appends a batch with one persist for all of it (group commit); returns
    /// the sequence numbers, consecutive, once every record is persistent.
    /// All or nothing is acknowledged. The arrays are copied once, into one
    /// buffer, then stored; ``append(buffers:)`` stores straight from the caller's buffers.
    @discardableResult
    public func append(contentsOf records: [[UInt8]]) throws(DaxLogError) -> Range<UInt64> {
        var total = 0
        for r in records { total += r.count }
        return try withUnsafeTemporaryAllocation(of: UnsafeRawBufferPointer.self, capacity: records.count) {
            (b: UnsafeMutableBufferPointer<UnsafeRawBufferPointer>) throws(DaxLogError) -> Range<UInt64> in
            try withUnsafeTemporaryAllocation(byteCount: max(total, 1), alignment: 16) {
                (space: UnsafeMutableRawBufferPointer) throws(DaxLogError) -> Range<UInt64> in
                var at = 0
                for (i, r) in records.enumerated() {
                    let part = UnsafeMutableRawBufferPointer(rebasing: space[at..<(at + r.count)])
                    r.withUnsafeBytes { if let s = $0.baseAddress, $0.count > 0 { part.baseAddress!.copyMemory(from: s, byteCount: $0.count) } }
                    b.initializeElement(at: i, to: UnsafeRawBufferPointer(part))
                    at += r.count
                }
                return try appendRecords(UnsafeBufferPointer(b))
            }
        }
    }

    // MARK: - Reading

    /// The live records from sequence `from` on, in order, checksum-verified.
    /// Lost records are skipped (they are in ``lostSequences``); a record
    /// that fails to read now is marked lost and skipped.
    public func records(from: UInt64 = 0) throws(DaxLogError) -> [DaxLogRecord] {
        try core.withLock { (c: inout LogCore) throws(DaxLogError) -> [DaxLogRecord] in
            try readLocked(&c, from: from, operation: "read")
        }
    }

    // MARK: - Space

    /// Discards every record before `sequence` (a checkpoint): their space is
    /// reused once the data area wraps around. Persistent when it returns.
    /// - Throws: `.invalidArgument` (past ``nextSequence``), `.sealed`, `.failed`, `.readOnly`, `.closed`.
    public func discard(upTo sequence: UInt64) throws(DaxLogError) {
        try core.withLock { (c: inout LogCore) throws(DaxLogError) in try discardLocked(&c, upTo: sequence) }
    }

    // MARK: - Lifecycle

    /// After a removal (or a failure), once the device is back: maps the region
    /// of `device` (by default the same path reopened), recovers, and continues
    /// after the last good record. Records acknowledged but not found again are
    /// reported lost (and a gap record says so on the media, so no sequence
    /// number is reused).
    ///
    /// While the device is shorter than the log region (a truncated file not
    /// yet regrown) this throws `.deviceTooSmall`, saying how many bytes the
    /// device has and the log needs, and the log stays as it was: call again
    /// once the device is whole, or see ``reattach(to:growingEmulatedFile:)``.
    @discardableResult
    public func reattach(to device: DaxDevice? = nil) throws(DaxLogError) -> DaxLogRecovery {
        try reattach(to: device, growingEmulatedFile: false)
    }

    /// ``reattach(to:)``; with `growingEmulatedFile`, a file-backed device
    /// (emulated, or a file on a DAX mount) shorter than the log region is
    /// first extended with zeros to the region's end, so the log continues at
    /// once: the records that were in the cut-off part are reported lost. A
    /// device-dax that is too small is never grown (`.deviceTooSmall`).
    @discardableResult
    public func reattach(to device: DaxDevice? = nil, growingEmulatedFile: Bool) throws(DaxLogError) -> DaxLogRecovery {
        try core.withLock { (c: inout LogCore) throws(DaxLogError) -> DaxLogRecovery in
            var target: DaxDevice
            if let device { target = device } else {
                do throws(DaxError) { target = try c.device.reopen() } catch {
                    throw DaxLogError(.device, operation: "reattach", path: c.device.path, underlying: error,
                                      message: "cannot reopen the device")
                }
            }
            let needed = offset + length
            // A device opened here (not the caller's) is closed again if it is not kept.
            var openedHere = device == nil
            if growingEmulatedFile, target.kind != .deviceDax, target.size < needed {
                do throws(DaxError) {
                    // Through the open descriptor, not the name: never a file planted there since.
                    try target.extendBackingFile(to: needed)
                    let grown = try target.reopen()
                    if openedHere { target.close() }
                    target = grown
                    openedHere = true
                } catch {
                    if openedHere { target.close() }
                    throw DaxLogError(.device, operation: "reattach", path: target.path, underlying: error,
                                      message: "cannot grow the file to the log's \(needed) bytes")
                }
            }
            guard target.size >= needed else {
                if openedHere { target.close() }
                throw tooSmall(target, operation: "reattach", needed: needed)
            }
            c.mapping?.close()
            c.mapping = nil
            try attach(&c, device: target, operation: "reattach", creation: .never)
            return c.recovery
        }
    }

    /// Seals the log and releases its mapping. Idempotent. A clean close of an
    /// open log persists its next sequence number, so the next open reports
    /// nothing ``DaxLogRecovery/unaccounted``.
    public func close() {
        let m = commitLock.withLock { _ in core.withLock { c -> DaxMapping? in
            persistPending(&c)
            settleLease(&c)
            c.state = .closed
            releaseRegion(&c)
            defer { c.mapping = nil }
            return c.mapping
        } }
        m?.close()
    }

    // MARK: - DaxHolder

    /// On `preRemove`: seals (the append in flight finishes first) and closes
    /// the mapping. On a media failure, a removed range or lost pages: marks
    /// the records overlapping the range lost. A failure raised for an earlier
    /// attachment (its `DaxFailure.epoch` is older than the mapping of the
    /// last ``reattach(to:)``) changes nothing: the records at those offsets
    /// now were written after it. Always answers true.
    public func notifyFailure(_ failure: DaxFailure) async -> Bool {
        let (release, lost) = commitLock.withLock { _ in core.withLock { c -> (DaxMapping?, [Range<UInt64>]) in
            c.failures.append(failure.withoutMappingsForLog)
            guard c.concerns(failure) else { return (nil, []) }
            if failure.kind == .preRemove {
                // The appends in flight finish first: what they stored is persisted.
                persistPending(&c)
                if c.state == .open || c.state == .failed { c.state = .sealed }
                releaseRegion(&c)
                defer { c.mapping = nil }
                return (c.mapping, [])
            }
            let fresh = markLost(&c, deviceRange: failure.range)
            // Kept on the media too, so a recovery in another process reports them.
            if !fresh.isEmpty, let m = c.mapping { recordLoss(&c, m) }
            return (nil, fresh)
        } }
        LogWarnings.lost(lost, path: failure.device, cause: failure.kind.rawValue, deviceRange: failure.range)
        release?.close()
        for m in failure.mappings where failure.kind == .preRemove { m.close() }
        return true
    }

    // MARK: - Test hook

    /// Tests: what to do at each store point, in order (nil: nothing, the
    /// production case; see StorePoint.swift for why the hook stays).
    package func inject(_ injector: (@Sendable (StorePoint) -> StoreAction)?) {
        core.withLock { $0.injector = injector }
    }
}

extension DaxFailure {
    var withoutMappingsForLog: DaxFailure {
        DaxFailure(device: device, range: range, kind: kind, reconstructed: reconstructed, epoch: epoch)
    }
}
