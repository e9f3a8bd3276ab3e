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
        /// A simulated persistence domain for an emulated device: what
        /// DaxMapTesting's `simulation` option sets (nil on the hardware).
        package var simulatedDomain: SimulatedPersistenceRequest?
        /// **For benchmarking only; unsafe for data.** Gives an emulated device
        /// (a plain file) cache-line persistence: a persist flushes the written
        /// lines and fences, and never calls `msync`, so nothing reaches the file
        /// on disk when the persist returns, and a crash of the machine loses it.
        /// The counterpart of libpmem's `PMEM_IS_PMEM_FORCE=1`: it lets a
        /// benchmark measure the cache-line code path on DRAM (`/dev/shm`).
        /// Never the default.
        ///
        /// - On device-dax and on a file mapped `MAP_SYNC` it changes nothing:
        ///   their persists already are the hardware's flush and fence (or a
        ///   fence alone at byte granularity).
        /// - Refused (`.invalidArgument`) on a file on a DAX mount that refuses
        ///   `MAP_SYNC` (there `msync` is what makes data durable), with a
        ///   simulated persistence domain, and with `requiredGranularity: .byte`.
        public var unsafeCacheLinePersistence: Bool = false

        /// Options with the defaults above: any granularity, read-write, a 2 s removal deadline, no simulation.
        /// `unsafeCacheLinePersistence` (benchmarking only) is off unless set.
        public init(requiredGranularity: StoreGranularity? = nil, readOnly: Bool = false,
                    removalDeadline: Duration = .seconds(2), unsafeCacheLinePersistence: Bool = false) {
            self.requiredGranularity = requiredGranularity
            self.readOnly = readOnly
            self.removalDeadline = removalDeadline
            self.unsafeCacheLinePersistence = unsafeCacheLinePersistence
        }
    }

    /// The descriptor, lifecycle and identity: what the dispatcher shares.
    let handle: DeviceHandle
    /// Where this device's failures go to its holders. It knows the device's
    /// ``handle``, never the device: ownership runs one way.
    let dispatcher: FailureDispatcher
    /// Whether ``DaxRuntime/enroll(_:)`` has run for this device (its first
    /// mapping or watch): until then, nothing process-wide knows it.
    let enrolled = Atomic<Bool>(false)

    /// The path it was opened from.
    public var path: String { handle.path }
    /// What was opened: device-dax, a file on a DAX mount, or an emulated file.
    public var kind: DaxDeviceKind { handle.kind }
    /// Bytes that can be mapped.
    public var size: UInt64 { handle.size }
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
    package var eventIdentity: DaxDeviceIdentity? { handle.eventIdentity }
    /// `st_dev`/`st_rdev` and inode of what was opened, to recognise it again.
    var identity: FileIdentity { handle.identity }
    var options: OpenOptions { handle.options }
    let useMapSync: Bool
    /// The simulated persistence domain (DaxMapTesting's `simulation` option):
    /// what the device's mappings map, and their strategy. Nil on the hardware.
    package let simulatedDomain: (any SimulatedPersistenceDomain)?

    typealias State = DeviceHandle.State
    /// The descriptor and lifecycle (the handle's).
    var state: Locked<State> { handle.state }

    /// Kernel uevents seen that remove this device (unbind/remove of it or a
    /// parent), whether or not they were what started the removal.
    package var removalUEventsSeen: Int { dispatcher.removalUEvents.load(ordering: .relaxed) }

    /// Opening only: no thread, socket or process-wide registration (those come
    /// with the first mapping, through ``DaxRuntime/enroll(_:)``).
    init(
        path: String, kind: DaxDeviceKind, size: UInt64, alignment: UInt64, granularity: StoreGranularity,
        numaNode: Int?, badblocks: [Range<UInt64>], eventIdentity: DaxDeviceIdentity?, identity: FileIdentity,
        options: OpenOptions, useMapSync: Bool, descriptor: CInt, domain: (any SimulatedPersistenceDomain)? = nil
    ) {
        handle = DeviceHandle(path: path, kind: kind, size: size, identity: identity, eventIdentity: eventIdentity,
                              options: options, descriptor: descriptor)
        dispatcher = FailureDispatcher(device: handle)
        self.alignment = alignment
        self.granularity = granularity
        self.numaNode = numaNode
        self.openedBadblocks = badblocks
        self.useMapSync = useMapSync
        self.simulatedDomain = domain
        domain?.attach(to: self)
    }

    deinit {
        // The handle closes the descriptor once nothing (a removal in flight) needs it.
        DaxRuntime.process.withdraw(self)
    }

    public var description: String {
        "\(path) (\(kind), \(size) bytes, align \(alignment), \(granularity))"
    }

    /// The current lifecycle state.
    public var lifecycle: Lifecycle { handle.lifecycle }

    /// Closes the descriptor. Mappings stay valid until they are closed; new
    /// mappings throw ``DaxError/Code/closed``. Idempotent.
    public func close() {
        handle.close()
        DaxRuntime.process.withdraw(self)
        DaxRuntime.process.eventsIfMade?.finish(handle)
    }

    /// Opens the same path again: after a removal, once the device is back.
    /// Mappings revoked on the old device stay revoked.
    public func reopen() throws(DaxError) -> DaxDevice {
        try DaxDevice.open(path, options: options)
    }

    /// Mappings of this device that are still open (neither closed nor revoked).
    public var openMappings: [DaxMapping] {
        guard enrolled.load(ordering: .acquiring) else { return [] } // never mapped
        return DaxRuntime.process.registry.mappings(of: handle).filter(\.isUsable).sorted { $0.id < $1.id }
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
        let hub = DaxRuntime.process.events
        let stream = hub.deviceStream(handle)
        if lifecycle == .closed || lifecycle == .gone { hub.finish(handle) }
        return stream
    }

    func publish(_ event: DaxDeviceEvent) {
        handle.publish(event)
    }
}
