/// The process-wide view of daxmap's fault handling, for tools such as `daxmap watch`.
public enum DaxMonitor {
    /// Installs the SIGBUS handler and starts the monitor thread (also done by
    /// the first ``DaxDevice/map(offset:length:holder:options:)``).
    public static func start() throws(DaxError) { try FaultMonitor.shared.start() }

    /// Every device event of the process, and every kernel uevent seen.
    public static func events() -> AsyncStream<DaxMonitorEvent> { FaultMonitor.shared.events() }

    /// Counters: faults recorded and dropped, foreign faults chained, uevents rejected.
    public static var statistics: DaxMonitorStatistics { FaultMonitor.shared.statistics }

    /// Watches `device` for removal uevents even while it has no mapping.
    public static func watch(_ device: DaxDevice) throws(DaxError) {
        try FaultMonitor.shared.start()
        FaultMonitor.shared.watch(device)
    }
}

/// An event seen by the process-wide monitor.
public enum DaxMonitorEvent: Sendable, CustomStringConvertible {
    /// An event of an opened device.
    case device(path: String, DaxDeviceEvent)
    /// A kernel uevent (already checked to come from the kernel).
    case uevent(UEvent)
    /// The signal handler's ring was full: this many faults were not recorded.
    case faultsDropped(UInt64)

    public var description: String {
        switch self {
        case .device(let path, let event): "\(path): \(event)"
        case .uevent(let e): "uevent \(e.action) \(e.devpath)"
        case .faultsDropped(let n): "\(n) fault(s) dropped (ring full)"
        }
    }
}

/// Counters of the process-wide monitor.
public struct DaxMonitorStatistics: Sendable, Hashable {
    /// Faults in daxmap's ranges recorded by the handler and drained.
    public var faultsRecorded: UInt64
    /// Faults the handler could not record (ring full).
    public var faultsDropped: UInt64
    /// Faults outside daxmap's ranges, handed to the previous handler.
    public var foreignFaultsChained: UInt64
    /// Asynchronous memory-failure notices (`BUS_MCEERR_AO`) for ranges already
    /// released: the tail of a pre-remove storm, absorbed rather than fatal.
    public var lateNotices: UInt64
    /// uevent messages refused because they did not come from the kernel.
    public var ueventsRejected: UInt64
    /// uevent messages that did not parse.
    public var ueventsMalformed: UInt64
    /// Whether the netlink uevent socket could be opened (else sysfs is polled).
    public var ueventsAvailable: Bool
}
