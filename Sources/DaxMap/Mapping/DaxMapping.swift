internal import CDaxMap
import Glibc
import Synchronization
import SystemPackage
internal import DaxMapSync

/// A mapped range of a ``DaxDevice``.
///
/// Guarded accesses (``read(at:into:)``, ``write(_:at:persist:)``, ``fill(_:at:count:persist:)``,
/// ``persist(at:count:)``, and typed ``load(_:at:)`` / ``store(_:at:persist:)``) turn a
/// fault into a thrown ``DaxError`` (`.mediaFailure`, `.deviceRemoved`, `.revoked`,
/// `.closed`) instead of a SIGBUS. Raw access through ``withUnsafeMutableBytes(_:)``,
/// ``withUnsafeBytes(_:)`` and the checked typed views
/// ``withUnsafeBufferPointer(of:at:count:_:)`` / ``withUnsafeMutableBufferPointer(of:at:count:_:)``
/// is unguarded: a fault there follows the mapping's ``FaultPolicy``.
///
/// Lifetime: ``close()`` releases the device memory at once (the range becomes
/// a `PROT_NONE` reservation, so a stale pointer cannot reach other memory);
/// the address range itself is unmapped exactly once, when the mapping is
/// deinitialised. Thread-safe; persistence functions are chosen once, at mapping time.
public final class DaxMapping: Sendable, CustomStringConvertible {
    /// How to map.
    public struct Options: Sendable, Hashable {
        /// Pre-fault every page at map time (`MAP_POPULATE`), so the first
        /// stores do not pay for page faults.
        public var prefault: Bool
        /// What an unguarded fault does. Default: replace the failed pages and report them.
        public var faultPolicy: FaultPolicy
        /// Map read-only (`PROT_READ`).
        public var readOnly: Bool
        /// Let the kernel map a DAX file with 2 MiB pages (the virtual address is
        /// 2 MiB-aligned). When false the address is deliberately offset by one
        /// page so only 4 KiB pages are used: `MADV_HWPOISON` cannot split a
        /// 2 MiB fsdax mapping ("unsplit thp: Failed"). Device-dax always follows
        /// the device alignment.
        public var largePages: Bool
        /// Copies and fills of at least this many bytes use non-temporal stores;
        /// smaller ones ordinary stores and a flush. Default
        /// ``defaultNonTemporalThreshold``: 256 bytes, like libpmem2, confirmed by
        /// `make bench`. At page granularity, where `msync` dominates small
        /// copies, non-temporal stores start at 8 KiB at the earliest — unless
        /// the environment sets the threshold.
        public var nonTemporalThreshold: Int

        /// 256, or the environment's `DAXMAP_MOVNT_THRESHOLD` (bytes, read once
        /// per process, as libpmem2's `PMEM_MOVNT_THRESHOLD`), which then also
        /// lifts the 8 KiB minimum at page granularity.
        public static var defaultNonTemporalThreshold: Int { Persistence.thresholdOverride ?? 256 }

        /// Options with the defaults above: no prefault, `.replacePages`, read-write, no large pages.
        public init(prefault: Bool = false, faultPolicy: FaultPolicy = .replacePages, readOnly: Bool = false,
                    largePages: Bool = true, nonTemporalThreshold: Int = Options.defaultNonTemporalThreshold) {
            self.prefault = prefault
            self.faultPolicy = faultPolicy
            self.readOnly = readOnly
            self.largePages = largePages
            self.nonTemporalThreshold = nonTemporalThreshold
        }
    }

    /// Where a mapping is in its life.
    public enum State: Int, Sendable {
        /// Usable: accesses go to the device.
        case open = 0
        /// Revoked after a removal: the range is a `PROT_NONE` reservation.
        case revoked = 1
        /// Closed by its owner (released).
        case closed = 2
    }

    /// The device this maps.
    public let device: DaxDevice
    /// The holder this mapping belongs to, if any.
    public let holder: (any DaxHolder)?
    /// The device offset of the first mapped byte.
    public let offset: UInt64
    /// Bytes mapped.
    public let count: Int
    /// How stores to this mapping are made persistent.
    public let granularity: StoreGranularity
    /// The options it was mapped with.
    public let options: Options
    /// The mapping or its device was opened read-only: decided once, not per store
    /// (reading `device.options` copies the device's options on every write).
    private let readOnly: Bool
    /// A process-unique identifier (also in fault events), issued in
    /// increasing order: also the epoch this mapping began in. A failure with
    /// a lower ``DaxFailure/epoch`` was observed before it existed and is not its own.
    public let id: UInt64

    let base: UnsafeAddress
    let slot: Int
    let persistence: PersistenceStrategy
    let stateValue: Atomic<Int>
    /// Set once the range-table slot is given back (close, or deinit).
    private let slotFreed = Atomic<Bool>(false)
    /// What the handler had marked when the slot was given back.
    private let closedFailures = Locked<[DaxFailedRange]>([])

    init(device: DaxDevice, holder: (any DaxHolder)?, offset: UInt64, count: Int, granularity: StoreGranularity,
         options: Options, id: UInt64, base: UnsafeMutableRawPointer, slot: Int) {
        self.device = device
        self.holder = holder
        self.offset = offset
        self.count = count
        self.granularity = granularity
        self.options = options
        self.readOnly = options.readOnly || device.options.readOnly
        self.id = id
        self.base = UnsafeAddress(base)
        self.slot = slot
        self.persistence = PersistenceStrategy(granularity: granularity, nonTemporalThreshold: options.nonTemporalThreshold,
                                               simulator: device.persistenceSimulator)
        self.stateValue = Atomic(State.open.rawValue)
    }

    deinit {
        // The only munmap of this range. No access can be in flight: every one holds `self`.
        if !slotFreed.exchange(true, ordering: .acquiringAndReleasing) { cdaxmap_range_unregister(slot) }
        DaxRuntime.process.registry.remove(id)
        device.dispatcher.forget(id)
        Syscalls.munmap(base.pointer, count)
    }

    public var description: String {
        "mapping \(id) of \(device.path) [\(offset), \(offset + UInt64(count))) \(state)"
    }

    /// Copies and fills of at least this many bytes use non-temporal stores on
    /// this mapping (``Options/nonTemporalThreshold`` after the granularity's minimum).
    public var nonTemporalThreshold: Int { persistence.streamingThreshold }

    /// The device range this mapping covers.
    public var deviceRange: Range<UInt64> { offset..<(offset + UInt64(count)) }

    /// The current state.
    public var state: State { State(rawValue: stateValue.load(ordering: .acquiring)) ?? .closed }

    /// Whether guarded accesses may still succeed.
    public var isUsable: Bool { state == .open }

    /// Every range of this mapping daxmap no longer trusts, with why: poison,
    /// memory removed under it (a truncated file's tail), pages replaced after
    /// an unguarded fault. Marked by the signal handler as the fault happens,
    /// so this is complete even when fault records were dropped; coalesced per
    /// kind. Past ``maximumFailedExtents`` distinct extents the whole mapping
    /// is listed. Kept after ``close()``.
    public var failures: [DaxFailedRange] { markedFailures() }

    /// Distinct failed extents a mapping records before it counts as failed as a whole.
    public static let maximumFailedExtents = Int(CDAXMAP_FAILED_CAPACITY)

    /// Device ranges whose pages were replaced after an unguarded fault: what
    /// was read there is not the device's data.
    public var lostRanges: [Range<UInt64>] { failures.filter { $0.kind == .pagesLost }.map(\.range) }

    /// Device ranges the kernel reported as failed memory (poison): guarded
    /// accesses there throw `.mediaFailure` until the device is reopened.
    public var failedRanges: [Range<UInt64>] { failures.filter { $0.kind == .poison }.map(\.range) }

    func markedFailures() -> [DaxFailedRange] {
        if slotFreed.load(ordering: .acquiring) { return closedFailures.withLock { $0 } }
        let marks = readMarks()
        // The slot may have been given back (and reused) while we read it.
        if slotFreed.load(ordering: .acquiring) { return closedFailures.withLock { $0 } }
        return marks
    }

    private func readMarks() -> [DaxFailedRange] {
        let classifier = FaultClassifier(self)
        let start = UInt(bitPattern: base.pointer)
        if let kind = Optional(cdaxmap_range_overflowed(slot)), kind != 0 {
            return [classifier.failedRange(kind: kind, lo: start, hi: start + UInt(count))]
        }
        var room = Self.maximumFailedExtents
        while true {
            var kinds = [CInt](repeating: 0, count: room)
            var los = [UInt](repeating: 0, count: room), his = [UInt](repeating: 0, count: room)
            let n = Int(cdaxmap_range_failed(slot, &kinds, &los, &his, room))
            if n > room {
                room = n
                continue
            }
            return (0..<n).map { classifier.failedRange(kind: kinds[$0], lo: los[$0], hi: his[$0]) }
        }
    }

    /// The epoch of this mapping's newest mark: a failure re-derived from its
    /// marks was observed by then. Now when the slot is already given back.
    var markedEpoch: UInt64 {
        let epoch = cdaxmap_range_marked_epoch(slot)
        return slotFreed.load(ordering: .acquiring) ? DaxFailure.epochNow : epoch
    }

    /// Marks a device range of this mapping failed in the handler's table, so
    /// guarded accesses refuse it without faulting (a re-derived failure), with
    /// the mark the vocabulary gives `kind` (none for a kind that leaves none).
    func mark(_ kind: FailureCause.Kind, _ range: Range<UInt64>) {
        let part = range.clamped(to: deviceRange)
        guard let mark = kind.mark, !part.isEmpty, !slotFreed.load(ordering: .acquiring) else { return }
        let start = UInt(bitPattern: base.pointer)
        // -ENOSPC only: the slot then counts as failed whole with this kind (cdaxmap_range_overflowed).
        _ = cdaxmap_range_mark(slot, mark, start + UInt(part.lowerBound - offset), start + UInt(part.upperBound - offset))
    }

    /// Gives the range-table slot back, once, keeping what it had marked.
    func releaseSlot() {
        guard !slotFreed.load(ordering: .acquiring) else { return }
        let marks = readMarks()
        closedFailures.withLock { $0 = marks }
        if !slotFreed.exchange(true, ordering: .acquiringAndReleasing) { cdaxmap_range_unregister(slot) }
    }

    /// Releases the device memory now: the range becomes a `PROT_NONE`
    /// reservation until deinit. Idempotent; the holder's release after a removal.
    ///
    ///
    /// Its addresses stay a `PROT_NONE` reservation until deinit: a guarded
    /// access racing the close throws `.closed`, and a raw access (a writer
    /// thread that has not stopped yet) is absorbed by the fault policy. A
    /// closed mapping keeps its entry in the signal handler's range table
    /// until the table is full; then the oldest closed mappings give theirs
    /// back, so closed mappings never block new ones (a raw access to such an
    /// old closed mapping is then an ordinary `SIGSEGV`).
    public func close() {
        let previous = exchangeState(to: .closed)
        if previous == .open { reserve() }
        guard previous != .closed else { return }
        if previous == .open { cdaxmap_range_set_revoked(slot) }
        DaxRuntime.process.registry.closed(self)
        device.dispatcher.forget(id)
    }

    /// Revokes the mapping (after a removal deadline): a `PROT_NONE` reservation
    /// replaces the device memory, so a re-bound device cannot show through and
    /// guarded accesses throw `.revoked`. Returns whether this call revoked it.
    @discardableResult
    func revoke() -> Bool {
        let expected = State.open.rawValue
        let (exchanged, _) = stateValue.compareExchange(expected: expected, desired: State.revoked.rawValue,
                                                        ordering: .acquiringAndReleasing)
        guard exchanged else { return false }
        reserve()
        cdaxmap_range_set_revoked(slot)
        return true
    }

    private func exchangeState(to new: State) -> State {
        State(rawValue: stateValue.exchange(new.rawValue, ordering: .acquiringAndReleasing)) ?? .closed
    }

    private func reserve() {
        // MAP_FIXED over our own range cannot fail but for lack of memory; then
        // the device memory stays mapped, which is what a plain munmap would avoid.
        if case .failure = Syscalls.mmap(base.pointer, count, PROT_NONE,
                                         MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) {
            Syscalls.munmap(base.pointer, count)
            // Best effort: unreserved, the range is merely free for the next mmap to reuse.
            _ = Syscalls.mmap(base.pointer, count, PROT_NONE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        }
    }

    // MARK: - Guarded access

    /// Copies `buffer.count` bytes from mapping offset `offset` into `buffer`.
    /// - Throws: `.outOfRange`, `.closed`, `.revoked`, `.deviceRemoved`,
    ///   `.mediaFailure` (with the failed device offset), `.pagesLost` ranges as `.deviceRemoved`.
    public func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(DaxError) {
        try check("read", offset, buffer.count)
        guard let dst = buffer.baseAddress, buffer.count > 0 else { return }
        var fault = cdaxmap_fault()
        if cdaxmap_read_guarded(dst, base.pointer + offset, buffer.count, &fault) != 0 {
            throw faultError("read", fault)
        }
    }

    /// Copies `bytes` to mapping offset `offset`, and makes them persistent
    /// unless `persist` is false (then call ``persist(at:count:)`` later).
    /// Uses non-temporal stores from ``Options/nonTemporalThreshold`` bytes up
    /// (at page granularity from 8 KiB at the earliest).
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int, persist: Bool = true) throws(DaxError) {
        try checkWritable("write", offset)
        try check("write", offset, bytes.count)
        guard let src = bytes.baseAddress, bytes.count > 0 else { return }
        if let simulator = persistence.simulator {
            return try simulatedStore(simulator, "write", offset, bytes.count, persist: persist) { dst, done, n, fault in
                cdaxmap_copy_guarded(dst, src + done, n, 0, &fault)
            }
        }
        let nt = persistence.streams(bytes.count)
        var fault = cdaxmap_fault()
        if cdaxmap_copy_guarded(base.pointer + offset, src, bytes.count, nt ? 1 : 0, &fault) != 0 {
            throw faultError("write", fault)
        }
        if persist { try persistRange(offset, bytes.count, streamed: nt) }
    }

    /// Fills `count` bytes at mapping offset `offset` with `value`; persists unless told not to.
    public func fill(_ value: UInt8, at offset: Int, count: Int, persist: Bool = true) throws(DaxError) {
        try checkWritable("fill", offset)
        try check("fill", offset, count)
        guard count > 0 else { return }
        if let simulator = persistence.simulator {
            return try simulatedStore(simulator, "fill", offset, count, persist: persist) { dst, _, n, fault in
                cdaxmap_fill_guarded(dst, CInt(value), n, 0, &fault)
            }
        }
        let nt = persistence.streams(count)
        var fault = cdaxmap_fault()
        if cdaxmap_fill_guarded(base.pointer + offset, CInt(value), count, nt ? 1 : 0, &fault) != 0 {
            throw faultError("fill", fault)
        }
        if persist { try persistRange(offset, count, streamed: nt) }
    }

    /// Makes `count` bytes at mapping offset `offset` persistent: flush each
    /// cache line and drain (cache-line granularity), drain only (byte), or
    /// `msync` the pages (page granularity).
    public func persist(at offset: Int = 0, count: Int? = nil) throws(DaxError) {
        let count = count ?? (self.count - offset)
        try check("persist", offset, count)
        try persistRange(offset, count, streamed: false)
    }

    /// Writes back everything stored through this mapping so far.
    public func persistAll() throws(DaxError) { try persist(at: 0, count: count) }

    func persistRange(_ offset: Int, _ count: Int, streamed: Bool) throws(DaxError) {
        if let simulator = persistence.simulator {
            return try simulator.persist(deviceRange(offset, count), operation: "persist")
        }
        switch persistence.persist(base.pointer, offset, count, streamed: streamed) {
        case .done:
            return
        case .faulted(let fault):
            throw faultError("persist", fault)
        case .failed(let errno):
            // ENOMEM: part of the range is no longer mapped (revoked or truncated away).
            throw DaxError(errno == .noMemory ? .deviceRemoved : .system, operation: "persist",
                           path: device.path, offset: self.offset + UInt64(offset), length: UInt64(count),
                           errno: errno, message: "msync failed")
        }
    }

    /// Runs `body` with the mapped bytes. Unguarded: a fault follows ``Options/faultPolicy``.
    /// - Warning: the pointer is valid only inside `body`, and only until the
    ///   mapping is closed or revoked; after that it reaches a `PROT_NONE` reservation.
    public func withUnsafeMutableBytes<R, E: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        Persistence.prepareThread()
        return try body(UnsafeMutableRawBufferPointer(start: base.pointer, count: count))
    }

    /// A store into a read-only mapping would be a SIGSEGV (read as "revoked"): refuse it.
    func checkWritable(_ operation: String, _ offset: Int) throws(DaxError) {
        guard readOnly else { return }
        throw DaxError(.permissionDenied, operation: operation, path: device.path, offset: self.offset + UInt64(max(offset, 0)),
                       message: "the mapping is read-only (the device or the mapping was opened read-only)")
    }

    /// Runs `body` with the mapped bytes, read-only: the raw access for
    /// readers (and for read-only mappings), with no guard and no copy.
    /// Unguarded like ``withUnsafeMutableBytes(_:)``: a fault follows
    /// ``Options/faultPolicy`` (``FaultPolicy/replacePages`` reads zeros from
    /// the replaced pages, which ``lostRanges`` then lists).
    /// - Warning: the pointer is valid only inside `body`, and only until the
    ///   mapping is closed or revoked.
    public func withUnsafeBytes<R, E: Error>(
        _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        Persistence.prepareThread()
        return try body(UnsafeRawBufferPointer(start: base.pointer, count: count))
    }

    func check(_ operation: String, _ offset: Int, _ count: Int) throws(DaxError) {
        switch state {
        case .open: break
        case .revoked:
            throw DaxError(.revoked, operation: operation, path: device.path, offset: self.offset + UInt64(max(offset, 0)),
                           message: "the mapping was revoked after the device was removed; reopen the device and map again")
        case .closed:
            throw DaxError(.closed, operation: operation, path: device.path, message: "the mapping is closed")
        }
        guard offset >= 0, count >= 0, offset <= self.count, count <= self.count - offset else {
            throw DaxError(.outOfRange, operation: operation, path: device.path, offset: UInt64(max(offset, 0)),
                           length: UInt64(max(count, 0)),
                           message: "range [\(offset), \(offset &+ count)) is outside the mapping of \(self.count) bytes")
        }
        let start = UInt(bitPattern: base.pointer)
        var lo: UInt = 0, hi: UInt = 0
        let kind = cdaxmap_range_check(slot, start + UInt(offset), start + UInt(offset + max(count, 1)), &lo, &hi)
        if kind != 0 { throw FaultClassifier(self).error(operation, marked: kind, lo: lo, hi: hi) }
        try persistence.simulator?.checkPowered(operation, offset: self.offset + UInt64(offset))
        Persistence.prepareThread()
    }

    /// The error a guarded access throws for the fault its guard caught.
    func faultError(_ operation: String, _ fault: cdaxmap_fault) -> DaxError {
        FaultClassifier(self).error(operation, fault, closed: state == .closed, gone: goneBytes(from:))
    }

    /// Bytes from device offset `at` to the end of this mapping known to be
    /// gone after a `BUS_ADRERR`: a truncated file's size, else a `removed`
    /// mark (the monitor marks a truncated tail) covering `at`; nil when
    /// unknown (device-dax: the whole device is going).
    func goneBytes(from at: UInt64) -> UInt64? {
        let end = offset + UInt64(count)
        guard at < end else { return nil }
        if let size = device.handle.backingSize(), size <= at { return end - at }
        if let mark = markedFailures().first(where: { $0.kind == .removed && $0.range.contains(at) }) {
            return min(mark.range.upperBound, end) - at
        }
        return nil
    }
}

/// A raw address that may cross threads: the mapping guards its lifetime.
struct UnsafeAddress: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    init(_ pointer: UnsafeMutableRawPointer) { self.pointer = pointer }
}
