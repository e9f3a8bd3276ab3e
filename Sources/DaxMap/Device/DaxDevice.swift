internal import CDaxMap
import Glibc
import Synchronization
internal import DaxMapSync
import SystemPackage

/// An opened DAX device: `/dev/daxX.Y`, a file on a DAX mount, or an emulated file.
///
/// The device owns one descriptor, closed by ``close()`` or when the device is
/// removed (an open descriptor on a device-dax node across an unbind and re-bind
/// trips a kernel refcount bug, so letting go means closing it). Mappings keep
/// their memory until they are closed or revoked. Thread-safe.
public final class DaxDevice: Sendable, CustomStringConvertible {
    /// Where the device lives in the device's lifecycle.
    public enum Lifecycle: String, Sendable, Hashable {
        /// Usable: ``map(offset:length:holder:options:)`` works.
        case alive
        /// Being removed: frozen, holders notified, waiting for them to release.
        case going
        /// Removed: remaining mappings revoked, descriptor closed. ``reopen()`` once it is back.
        case gone
        /// Closed by its owner.
        case closed
    }

    /// How to open a device.
    public struct OpenOptions: Sendable, Hashable {
        /// The coarsest store granularity the caller accepts. A DAX file that
        /// cannot be mapped with `MAP_SYNC` falls back to `.page` only when this is
        /// `.page`; an emulated device is `.page` by nature and is refused when
        /// this is finer. Default: `.cacheLine` for DAX hardware, which is what
        /// such a caller expects; emulated files are accepted as they are.
        public var requiredGranularity: StoreGranularity?
        /// Open read-only (mappings are then `PROT_READ`).
        public var readOnly: Bool
        /// How long a removal waits for holders to release their mappings
        /// before it revokes what is left.
        public var removalDeadline: Duration
        /// Open an emulated device with a simulated persistence domain, which
        /// loses what was not persisted when the power fails (a test facility;
        /// see ``DaxPersistenceSimulation``). Its granularity is the device's.
        public var simulation: DaxPersistenceSimulation?

        /// Options with the defaults above: any granularity, read-write, a 2 s removal deadline, no simulation.
        public init(requiredGranularity: StoreGranularity? = nil, readOnly: Bool = false,
                    removalDeadline: Duration = .seconds(2), simulation: DaxPersistenceSimulation? = nil) {
            self.requiredGranularity = requiredGranularity
            self.readOnly = readOnly
            self.removalDeadline = removalDeadline
            self.simulation = simulation
        }
    }

    /// The path it was opened from.
    public let path: String
    /// What was opened: device-dax, a file on a DAX mount, or an emulated device (a plain file).
    public let kind: DaxDeviceKind
    /// Bytes that can be mapped.
    public let size: UInt64
    /// Offsets, lengths and mapping addresses are multiples of this: the
    /// device-dax alignment (4 KiB, 2 MiB or 1 GiB), else the page size.
    public let alignment: UInt64
    /// How stores are made persistent on this device.
    public let granularity: StoreGranularity
    /// The NUMA node of the memory, when known.
    public let numaNode: Int?
    /// The kernel's badblocks when the device was opened (see ``badblocks``).
    let openedBadblocks: [Range<UInt64>]
    /// The device's sysfs path below `/sys` (for example
    /// `/devices/.../region0/dax0.0/dax0.0`), used to match removal uevents;
    /// nil for emulated devices.
    public var sysfsDevicePath: String? { eventIdentity?.devpath }
    /// What removal uevents are matched against (nil for emulated devices).
    package let eventIdentity: DaxDeviceIdentity?
    /// `st_dev`/`st_rdev` and inode of what was opened, to recognise it again.
    let identity: FileIdentity
    let options: OpenOptions
    let useMapSync: Bool
    /// The simulated persistence domain, when opened with ``OpenOptions/simulation``.
    public let persistenceSimulator: DaxPersistenceSimulator?

    struct State {
        var lifecycle: Lifecycle = .alive
        var descriptor: CInt
    }

    let state: Locked<State>
    /// Where this device's failures go to its holders.
    let dispatcher = FailureDispatcher()
    let ueventRemovals = Atomic<Int>(0)

    /// Kernel uevents seen that remove this device (unbind/remove of it or a
    /// parent), whether or not they were what started the removal.
    package var removalUEventsSeen: Int { ueventRemovals.load(ordering: .relaxed) }

    init(
        path: String, kind: DaxDeviceKind, size: UInt64, alignment: UInt64, granularity: StoreGranularity,
        numaNode: Int?, badblocks: [Range<UInt64>], eventIdentity: DaxDeviceIdentity?, identity: FileIdentity,
        options: OpenOptions, useMapSync: Bool, descriptor: CInt, simulator: DaxPersistenceSimulator? = nil
    ) {
        self.path = path
        self.kind = kind
        self.size = size
        self.alignment = alignment
        self.granularity = granularity
        self.numaNode = numaNode
        self.openedBadblocks = badblocks
        self.eventIdentity = eventIdentity
        self.identity = identity
        self.options = options
        self.useMapSync = useMapSync
        self.persistenceSimulator = simulator
        self.state = Locked(State(descriptor: descriptor))
        dispatcher.attach(to: self)
        simulator?.attach(to: self)
        RetireChannel.shared.register(self)
    }

    deinit {
        let fd = state.withLock { $0.descriptor }
        if fd >= 0 { Syscalls.close(fd) }
        FaultMonitor.shared.forget(self)
        EventHub.shared.finish(self)
    }

    public var description: String {
        "\(path) (\(kind), \(size) bytes, align \(alignment), \(granularity))"
    }

    /// The current lifecycle state.
    public var lifecycle: Lifecycle { state.withLock { $0.lifecycle } }

    /// Closes the descriptor. Mappings stay valid until they are closed; new
    /// mappings throw ``DaxError/Code/closed``. Idempotent.
    public func close() {
        let fd: CInt = state.withLock { s in
            if s.lifecycle == .alive || s.lifecycle == .going { s.lifecycle = .closed }
            let fd = s.descriptor
            s.descriptor = -1
            return fd
        }
        if fd >= 0 {
            DaxRegionClaim.deviceClosing(self, descriptor: fd)
            Syscalls.close(fd)
        }
        FaultMonitor.shared.forget(self)
        EventHub.shared.finish(self)
    }

    /// Opens the same path again: after a removal, once the device is back.
    /// Mappings revoked on the old device stay revoked.
    public func reopen() throws(DaxError) -> DaxDevice {
        try DaxDevice.open(path, options: options)
    }

    /// Mappings of this device that are still open (neither closed nor revoked).
    public var openMappings: [DaxMapping] {
        MappingRegistry.shared.mappings(of: self).filter(\.isUsable).sorted { $0.id < $1.id }
    }

    /// A stream of this device's events: faults, failures notified, answers,
    /// removal progress. Each call returns a new stream; it finishes when the
    /// device is closed or gone (after ``DaxDeviceEvent/removalCompleted(_:)``),
    /// at once if it already is.
    ///
    /// **Buffering**: the stream keeps the newest 4,096 events not yet
    /// consumed (`bufferingNewest(4096)`); a consumer further behind loses the
    /// oldest, silently — publishing never waits for a consumer. Holders are
    /// told through ``DaxHolder``, not through this stream, so nothing a holder
    /// must act on is lost with it.
    public func events() -> AsyncStream<DaxDeviceEvent> {
        let stream = EventHub.shared.deviceStream(self)
        if lifecycle == .closed || lifecycle == .gone { EventHub.shared.finish(self) }
        return stream
    }

    func publish(_ event: DaxDeviceEvent) {
        EventHub.shared.publish(event, of: self)
    }

    // MARK: - Lifecycle steps of a removal

    /// Throws `.deviceGoing` when a planned removal (``DaxRetirement``) of
    /// one of `keys` runs in any process, naming the retirer.
    static func refuseWhileRetiring(_ keys: [String], operation: String, path: String) throws(DaxError) {
        guard let retirer = RetireMarker.retirer(ofAnyOf: keys) else { return }
        throw DaxError(.deviceGoing, operation: operation, path: path,
                       message: "a planned removal (daxmap retire) by \(retirer) is under way; new opens and mappings are refused until it finishes")
    }

    /// Freeze: from now on `map` throws `.deviceGoing`.
    func freeze() {
        state.withLock { s in if s.lifecycle == .alive { s.lifecycle = .going } }
    }

    /// The end of a removal: gone (unless closed meanwhile), descriptor closed.
    func markGone() {
        let fd = state.withLock { s -> CInt in
            if s.lifecycle != .closed { s.lifecycle = .gone }
            let fd = s.descriptor
            s.descriptor = -1
            return fd
        }
        if fd >= 0 {
            DaxRegionClaim.deviceClosing(self, descriptor: fd)
            Syscalls.close(fd)
        }
    }

    /// The size of the file behind a DAX file or emulated device now (nil for
    /// device-dax, or when it cannot be read).
    func backingSize() -> UInt64? {
        guard kind != .deviceDax else { return nil }
        let fd = state.withLock { $0.descriptor }
        guard fd >= 0, case .success(let st) = Syscalls.status(of: fd) else { return nil }
        return UInt64(max(st.st_size, 0))
    }

    /// Whether the memory behind this device has gone: the device-dax node is
    /// unbound, removed or given to kmem as system RAM, or the file was truncated
    /// to nothing or deleted.
    func hasVanished() -> Bool {
        switch kind {
        case .deviceDax:
            let rdev = identity.rdev
            return !Sysfs.servesDeviceDax(driver: Sysfs.driver(ofCharDevice: cdaxmap_dev_major(rdev), minor: cdaxmap_dev_minor(rdev)))
        case .fsdaxFile, .emulated:
            // The block device under a DAX file system disappears with its pfn/namespace.
            if let devpath = sysfsDevicePath, !Sysfs.exists(devpath) { return true }
            let fd = state.withLock { $0.descriptor }
            guard fd >= 0, case .success(let st) = Syscalls.status(of: fd) else { return true }
            return st.st_size == 0 || st.st_nlink == 0
        }
    }
}

/// What identifies an opened file or device node across opens.
struct FileIdentity: Sendable, Hashable {
    var device: UInt64
    var inode: UInt64
    var rdev: UInt64
}
