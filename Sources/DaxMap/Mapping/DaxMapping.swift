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
    let readOnly: Bool
    /// A process-unique identifier (also in fault events), issued in
    /// increasing order: also the epoch this mapping began in. A failure with
    /// a lower ``DaxFailure/epoch`` was observed before it existed and is not its own.
    public let id: UInt64

    package let base: UnsafeAddress
    let slot: Int
    /// How stores are made persistent: the hardware's, `msync`, or a simulated
    /// domain's (DaxMapTesting), chosen once here; no access asks again.
    let persistence: MappingPersistence
    /// Keeps an installed strategy alive (``MappingPersistence`` holds it unretained).
    let installedStrategy: InstalledStrategy?
    let stateValue: Atomic<Int>
    /// Set once the range-table slot is given back (close, or deinit).
    let slotFreed = Atomic<Bool>(false)
    /// What the handler had marked when the slot was given back.
    let closedFailures = Locked<[DaxFailedRange]>([])

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
        if let domain = device.simulatedDomain {
            let installed = InstalledStrategy(domain.strategy(granularity: granularity,
                                                              nonTemporalThreshold: options.nonTemporalThreshold))
            installedStrategy = installed
            persistence = .installed(Unmanaged.passUnretained(installed))
        } else {
            installedStrategy = nil
            persistence = .native(granularity, nonTemporalThreshold: options.nonTemporalThreshold)
        }
        // A mapping made as the power fails misses the simulator's cut-off of the open ones.
        self.stateValue = Atomic(device.simulatedDomain?.isCutOff == true ? Self.cutOffValue : State.open.rawValue)
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
    public var state: State { Self.state(stateValue.load(ordering: .acquiring)) }

    /// `stateValue` beyond ``State``: open, but its persistence domain lost
    /// power (a simulated one, ``cutOff()``), so guarded accesses are refused
    /// until the removal that follows revokes it. One more case of the state
    /// switch every guarded access makes anyway: no branch of its own.
    static var cutOffValue: Int { 3 }

    static func state(_ value: Int) -> State {
        value == cutOffValue ? .open : State(rawValue: value) ?? .closed
    }

    /// Whether guarded accesses may still succeed.
    public var isUsable: Bool { state == .open }

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
        var expected = State.open.rawValue
        while true {
            let (exchanged, now) = stateValue.compareExchange(expected: expected, desired: State.revoked.rawValue,
                                                              ordering: .acquiringAndReleasing)
            if exchanged { break }
            guard now == Self.cutOffValue || now == State.open.rawValue else { return false }
            expected = now
        }
        reserve()
        cdaxmap_range_set_revoked(slot)
        return true
    }

    private func exchangeState(to new: State) -> State {
        Self.state(stateValue.exchange(new.rawValue, ordering: .acquiringAndReleasing))
    }

    /// Refuses guarded accesses from now on with the strategy's
    /// ``PersistenceStrategy/cutOffError(_:_:offset:)``: the mapping's
    /// (simulated) persistence domain lost power. Until a removal revokes it;
    /// a closed or revoked mapping stays as it is.
    package func cutOff() {
        _ = stateValue.compareExchange(expected: State.open.rawValue, desired: Self.cutOffValue,
                                       ordering: .acquiringAndReleasing)
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
}
