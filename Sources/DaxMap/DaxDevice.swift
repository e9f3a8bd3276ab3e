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

        public init(requiredGranularity: StoreGranularity? = nil, readOnly: Bool = false,
                    removalDeadline: Duration = .seconds(2)) {
            self.requiredGranularity = requiredGranularity
            self.readOnly = readOnly
            self.removalDeadline = removalDeadline
        }
    }

    /// The path it was opened from.
    public let path: String
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
    /// Known bad ranges, in device offsets (from the kernel's badblocks lists).
    public let badblocks: [Range<UInt64>]
    /// The device's sysfs path below `/sys` (for example
    /// `/devices/.../region0/dax0.0/dax0.0`), used to match removal uevents;
    /// nil for emulated devices.
    public var sysfsDevicePath: String? { eventIdentity?.devpath }
    /// What removal uevents are matched against (nil for emulated devices).
    public let eventIdentity: DaxDeviceIdentity?
    /// `st_dev`/`st_rdev` and inode of what was opened, to recognise it again.
    let identity: FileIdentity
    let options: OpenOptions
    let useMapSync: Bool

    struct State {
        var lifecycle: Lifecycle = .alive
        var descriptor: CInt
        var mappings: [UInt64: MappingRecord] = [:]
        var eventSinks: [UInt64: AsyncStream<DaxDeviceEvent>.Continuation] = [:]
        var nextSink: UInt64 = 0
        var removal: Task<DaxRemovalReport, Never>?
    }

    struct MappingRecord {
        weak var mapping: DaxMapping?
        let range: Range<UInt64>
        let holder: (any DaxHolder)?
    }

    let state: Locked<State>
    let notices = Locked(PendingNotices())
    let ueventRemovals = Atomic<Int>(0)

    /// Kernel uevents seen that remove this device (unbind/remove of it or a
    /// parent), whether or not they were what started the removal.
    public var removalUEventsSeen: Int { ueventRemovals.load(ordering: .relaxed) }

    init(
        path: String, kind: DaxDeviceKind, size: UInt64, alignment: UInt64, granularity: StoreGranularity,
        numaNode: Int?, badblocks: [Range<UInt64>], eventIdentity: DaxDeviceIdentity?, identity: FileIdentity,
        options: OpenOptions, useMapSync: Bool, descriptor: CInt
    ) {
        self.path = path
        self.kind = kind
        self.size = size
        self.alignment = alignment
        self.granularity = granularity
        self.numaNode = numaNode
        self.badblocks = badblocks
        self.eventIdentity = eventIdentity
        self.identity = identity
        self.options = options
        self.useMapSync = useMapSync
        self.state = Locked(State(descriptor: descriptor))
    }

    deinit {
        let fd = state.withLock { $0.descriptor }
        if fd >= 0 { Syscalls.close(fd) }
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
        if fd >= 0 { Syscalls.close(fd) }
        FaultMonitor.shared.forget(self)
        finishEvents()
    }

    /// Opens the same path again: after a removal, once the device is back.
    /// Mappings revoked on the old device stay revoked.
    public func reopen() throws(DaxError) -> DaxDevice {
        try DaxDevice.open(path, options: options)
    }

    /// Mappings of this device that are still open (neither closed nor revoked).
    public var openMappings: [DaxMapping] {
        state.withLock { s in s.mappings.values.compactMap { $0.mapping }.filter { $0.isUsable } }
    }

    /// A stream of this device's events: faults, failures notified, removal
    /// progress. Each call returns a new stream; it finishes when the device is
    /// closed or gone.
    public func events() -> AsyncStream<DaxDeviceEvent> {
        let (stream, continuation) = AsyncStream<DaxDeviceEvent>.makeStream(bufferingPolicy: .bufferingNewest(4096))
        let finished = state.withLock { s -> Bool in
            if s.lifecycle == .closed || s.lifecycle == .gone { return true }
            let id = s.nextSink
            s.nextSink += 1
            s.eventSinks[id] = continuation
            continuation.onTermination = { [weak self] _ in
                _ = self?.state.withLock { $0.eventSinks.removeValue(forKey: id) }
            }
            return false
        }
        if finished { continuation.finish() }
        return stream
    }

    func emit(_ event: DaxDeviceEvent) {
        let sinks = state.withLock { Array($0.eventSinks.values) }
        for sink in sinks { sink.yield(event) }
        FaultMonitor.shared.publish(event, device: self)
    }

    func finishEvents() {
        let sinks = state.withLock { s -> [AsyncStream<DaxDeviceEvent>.Continuation] in
            let sinks = Array(s.eventSinks.values)
            s.eventSinks.removeAll()
            return sinks
        }
        for sink in sinks { sink.finish() }
    }
}

/// What identifies an opened file or device node across opens.
struct FileIdentity: Sendable, Hashable {
    var device: UInt64
    var inode: UInt64
    var rdev: UInt64
}
