internal import CDaxMap
import Glibc
import Synchronization
import SystemPackage

/// A mapped range of a ``DaxDevice``.
///
/// Guarded accesses (``read(at:into:)``, ``write(_:at:persist:)``, ``fill(_:at:count:persist:)``,
/// ``persist(at:count:)``) turn a fault into a thrown ``DaxError`` (`.mediaFailure`,
/// `.deviceRemoved`, `.revoked`, `.closed`) instead of a SIGBUS. Raw access
/// through ``withUnsafeMutableBytes(_:)`` is unguarded: a fault there follows
/// the mapping's ``FaultPolicy``.
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
        /// smaller ones ordinary stores and a flush. 256 bytes, like libpmem2,
        /// confirmed by `make bench`. At page granularity, where `msync` dominates
        /// small copies, non-temporal stores start at 8 KiB at the earliest.
        public var nonTemporalThreshold: Int

        public init(prefault: Bool = false, faultPolicy: FaultPolicy = .replacePages, readOnly: Bool = false,
                    largePages: Bool = true, nonTemporalThreshold: Int = 256) {
            self.prefault = prefault
            self.faultPolicy = faultPolicy
            self.readOnly = readOnly
            self.largePages = largePages
            self.nonTemporalThreshold = nonTemporalThreshold
        }
    }

    /// Where a mapping is in its life.
    public enum State: Int, Sendable {
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
    public let options: Options
    /// A process-unique identifier (also in fault events).
    public let id: UInt64

    /// At page granularity non-temporal stores beat ordinary ones (which read
    /// each line for ownership first) only from about 8 KiB: below, the drain of
    /// the streaming stores costs more than `msync` saves (`make bench`).
    static let pageNonTemporalMinimum = 8 << 10

    let base: UnsafeAddress
    let slot: Int
    let flushKind: CInt
    /// Copies and fills of at least this many bytes use non-temporal stores.
    let streamingThreshold: Int
    let stateValue: Atomic<Int>

    init(device: DaxDevice, holder: (any DaxHolder)?, offset: UInt64, count: Int, granularity: StoreGranularity,
         options: Options, id: UInt64, base: UnsafeMutableRawPointer, slot: Int) {
        self.device = device
        self.holder = holder
        self.offset = offset
        self.count = count
        self.granularity = granularity
        self.options = options
        self.id = id
        self.base = UnsafeAddress(base)
        self.slot = slot
        self.flushKind = granularity == .cacheLine ? Persistence.flushKind : CInt(CDAXMAP_FLUSH_NONE.rawValue)
        self.streamingThreshold = granularity == .page
            ? max(options.nonTemporalThreshold, Self.pageNonTemporalMinimum) : options.nonTemporalThreshold
        self.stateValue = Atomic(State.open.rawValue)
    }

    deinit {
        // The only munmap of this range. No access can be in flight: every one holds `self`.
        cdaxmap_range_unregister(slot)
        Syscalls.munmap(base.pointer, count)
    }

    public var description: String {
        "mapping \(id) of \(device.path) [\(offset), \(offset + UInt64(count))) \(state)"
    }

    /// The device range this mapping covers.
    public var deviceRange: Range<UInt64> { offset..<(offset + UInt64(count)) }

    /// The current state.
    public var state: State { State(rawValue: stateValue.load(ordering: .acquiring)) ?? .closed }

    /// Whether guarded accesses may still succeed.
    public var isUsable: Bool { state == .open }

    /// Device ranges whose pages were replaced after an unguarded fault: what
    /// was read there is not the device's data.
    public var lostRanges: [Range<UInt64>] { untrusted(kind: CDAXMAP_FAILED_LOST) }

    /// Device ranges the kernel reported as failed memory (poison): guarded
    /// accesses there throw `.mediaFailure` until the device is reopened.
    public var failedRanges: [Range<UInt64>] { untrusted(kind: CDAXMAP_FAILED_POISON) }

    private func untrusted(kind: CInt) -> [Range<UInt64>] {
        let capacity = Int(CDAXMAP_FAILED_CAPACITY)
        var kinds = [CInt](repeating: 0, count: capacity)
        var los = [UInt](repeating: 0, count: capacity), his = [UInt](repeating: 0, count: capacity)
        let n = min(cdaxmap_range_failed(slot, &kinds, &los, &his, capacity), capacity)
        let start = UInt(bitPattern: base.pointer)
        return (0..<n).filter { kinds[$0] == kind }.map { i in
            (offset + UInt64(los[i] - start))..<(offset + UInt64(his[i] - start))
        }
    }

    /// Releases the device memory now: the range becomes a `PROT_NONE`
    /// reservation until deinit. Idempotent; the holder's release after a removal.
    public func close() {
        let previous = exchangeState(to: .closed)
        if previous == .open { reserve() }
        if previous != .closed { device.mappingReleased(self) }
    }

    /// Revokes the mapping (after a removal deadline): a `PROT_NONE` reservation
    /// replaces the device memory, so a re-bound device cannot show through and
    /// guarded accesses throw `.revoked`. Returns whether this call revoked it.
    @discardableResult
    func revoke() -> Bool {
        var expected = State.open.rawValue
        let (exchanged, _) = stateValue.compareExchange(expected: expected, desired: State.revoked.rawValue,
                                                        ordering: .acquiringAndReleasing)
        expected = 0
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
        if cdaxmap_copy_guarded(dst, base.pointer + offset, buffer.count, 0, &fault) != 0 {
            throw faultError("read", fault)
        }
    }

    /// Copies `bytes` to mapping offset `offset`, and makes them persistent
    /// unless `persist` is false (then call ``persist(at:count:)`` later).
    /// Uses non-temporal stores from ``Options/nonTemporalThreshold`` bytes up
    /// (at page granularity from 8 KiB at the earliest).
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int, persist: Bool = true) throws(DaxError) {
        try check("write", offset, bytes.count)
        guard let src = bytes.baseAddress, bytes.count > 0 else { return }
        let nt = bytes.count >= streamingThreshold
        var fault = cdaxmap_fault()
        if cdaxmap_copy_guarded(base.pointer + offset, src, bytes.count, nt ? 1 : 0, &fault) != 0 {
            throw faultError("write", fault)
        }
        if persist { try persistRange(offset, bytes.count, streamed: nt) }
    }

    /// Fills `count` bytes at mapping offset `offset` with `value`; persists unless told not to.
    public func fill(_ value: UInt8, at offset: Int, count: Int, persist: Bool = true) throws(DaxError) {
        try check("fill", offset, count)
        guard count > 0 else { return }
        let nt = count >= streamingThreshold
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

    private func persistRange(_ offset: Int, _ count: Int, streamed: Bool) throws(DaxError) {
        switch granularity {
        case .byte:
            cdaxmap_sfence()
        case .cacheLine:
            if streamed {
                cdaxmap_sfence() // non-temporal stores need only the drain
                return
            }
            var fault = cdaxmap_fault()
            if cdaxmap_flush_guarded(flushKind, base.pointer + offset, count, &fault) != 0 {
                throw faultError("persist", fault)
            }
        case .page:
            let page = Syscalls.pageSize
            let start = offset & ~(page - 1)
            let end = offset + count
            cdaxmap_sfence() // drain non-temporal stores before the write-back
            if case .failure(let errno) = Syscalls.msync(base.pointer + start, end - start, MS_SYNC) {
                // ENOMEM: part of the range is no longer mapped (revoked or truncated away).
                throw DaxError(errno == .noMemory ? .deviceRemoved : .system, operation: "persist",
                               path: device.path, offset: self.offset + UInt64(offset), length: UInt64(count),
                               errno: errno, message: "msync failed")
            }
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

    private func check(_ operation: String, _ offset: Int, _ count: Int) throws(DaxError) {
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
        switch cdaxmap_range_check(slot, start + UInt(offset), start + UInt(offset + max(count, 1)), &lo, &hi) {
        case 0:
            break
        case CDAXMAP_FAILED_POISON:
            throw DaxError(.mediaFailure, operation: operation, path: device.path, offset: self.offset + UInt64(lo - start),
                           length: UInt64(hi - lo),
                           message: "the kernel reported a memory failure (poison) in this range; its data cannot be trusted")
        default:
            throw DaxError(.deviceRemoved, operation: operation, path: device.path, offset: self.offset + UInt64(lo - start),
                           length: UInt64(hi - lo),
                           message: "these pages were lost after a fault and replaced by anonymous memory; their contents are not the device's")
        }
        Persistence.prepareThread()
    }

    /// What ``injectMemoryFailure(at:)`` saw.
    public enum MemoryFailureInjection: Sendable {
        /// The kernel raised `BUS_MCEERR_AR` and the guard turned it into this error.
        case caught(DaxError)
        /// `madvise(MADV_HWPOISON)` was refused (no `CONFIG_MEMORY_FAILURE`, or not root).
        case unsupported(Errno)
        /// The call returned without a synchronous signal: the kernel may have sent
        /// an asynchronous notice instead (`EHWPOISON` on fsdax), which the holders get.
        case notRaised
    }

    /// Poisons the page at mapping offset `offset` with `madvise(MADV_HWPOISON)`,
    /// a real memory failure for test harnesses (root, `CONFIG_MEMORY_FAILURE`).
    /// The kernel's `BUS_MCEERR_AR` is caught by a guard, and the holders of the
    /// range are notified as for any memory failure.
    /// - Warning: the page's data is lost for good on real devices until the
    ///   poison is cleared (`ndctl clear-errors`, or a write for pmem).
    public func injectMemoryFailure(at offset: Int) -> MemoryFailureInjection {
        let page = Syscalls.pageSize
        guard offset >= 0, offset < count, isUsable else { return .unsupported(.invalidArgument) }
        Persistence.prepareThread()
        var fault = cdaxmap_fault()
        let r = cdaxmap_poison_guarded(base.pointer + (offset & ~(page - 1)), page, &fault)
        if r == -EFAULT { return .caught(faultError("madvise", fault)) }
        // EHWPOISON: the page was poisoned and the process signalled (fsdax sends AO).
        if r == -CDAXMAP_EHWPOISON { return .notRaised }
        if r < 0 { return .unsupported(Errno(rawValue: -r)) }
        return .notRaised
    }

    func faultError(_ operation: String, _ fault: cdaxmap_fault) -> DaxError {
        let address = UInt(fault.address)
        let start = UInt(bitPattern: base.pointer)
        let deviceOffset = offset + UInt64(address >= start ? address - start : 0)
        if fault.flags & UInt32(CDAXMAP_EVENT_REVOKED) != 0 || fault.signo == SIGSEGV {
            let closed = state == .closed
            return DaxError(closed ? .closed : .revoked, operation: operation, path: device.path, offset: deviceOffset,
                            message: closed ? "the mapping was closed during the access"
                                : "the mapping was revoked during the access (the device was removed)")
        }
        switch fault.code {
        case BUS_MCEERR_AR_, BUS_MCEERR_AO_:
            let extent = UInt64(1) << UInt64(max(fault.addr_lsb, 12))
            let failed = deviceOffset & ~(extent - 1)
            return DaxError(.mediaFailure, operation: operation, path: device.path, offset: failed, length: extent,
                            message: "memory failure (poison) at device offset \(failed), \(extent) bytes")
        default:
            return DaxError(.deviceRemoved, operation: operation, path: device.path, offset: deviceOffset,
                            message: "the memory at device offset \(deviceOffset) is no longer backed (BUS_ADRERR): the device was removed or the file truncated")
        }
    }
}

/// A raw address that may cross threads: the mapping guards its lifetime.
struct UnsafeAddress: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    init(_ pointer: UnsafeMutableRawPointer) { self.pointer = pointer }
}
