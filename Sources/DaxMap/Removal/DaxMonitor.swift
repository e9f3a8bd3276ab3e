internal import CDaxMap

/// The process-wide view of daxmap's fault handling, for tools such as `daxmap watch`.
public enum DaxMonitor {
    /// Installs the SIGBUS handler and starts the monitor thread (also done by
    /// the first ``DaxDevice/map(offset:length:holder:options:)``).
    public static func start() throws(DaxError) { try DaxRuntime.process.startMonitor() }

    /// Every device event of the process, and every kernel uevent seen.
    ///
    /// Each call returns a new stream. **It never finishes**: the monitor runs
    /// for the life of the process, so a `for await` over it ends only when the
    /// task is cancelled (or the loop breaks).
    ///
    /// **Buffering**: the stream keeps the newest 4,096 events not yet
    /// consumed (`bufferingNewest(4096)`); a consumer that falls further behind
    /// loses the oldest ones, silently — the stream never blocks the fault path.
    /// Fault records lost before they reach any stream (the signal handler's
    /// ring was full) are reported as ``DaxMonitorEvent/faultsDropped(_:)``, and
    /// the holders are still told (reconciled from the range table); events a
    /// slow consumer lost here are not announced. For a count that cannot be
    /// lost, read ``statistics``.
    public static func events() -> AsyncStream<DaxMonitorEvent> { DaxRuntime.process.events.processStream() }

    /// Counters: faults recorded and dropped, foreign and forged signals chained, uevents rejected.
    public static var statistics: DaxMonitorStatistics { DaxRuntime.process.monitor.statistics }

    /// Watches `device` for removal uevents even while it has no mapping
    /// (its first mapping does the same), and makes it reachable by a planned
    /// removal (``DaxRetirement``) of another process.
    public static func watch(_ device: DaxDevice) throws(DaxError) {
        try DaxRuntime.process.enroll(device)
    }

    /// Whether another `sigaction` has replaced daxmap's SIGBUS or SIGSEGV
    /// handler since it was installed (then faults in mappings are no longer
    /// daxmap's to handle, and ``DaxDevice/map(offset:length:holder:options:)``
    /// throws `.handlerDisplaced`).
    public static var handlerDisplaced: Bool { cdaxmap_sigbus_displaced() != 0 }

    /// Puts daxmap's handler back in front of the one installed after it, which
    /// daxmap then chains to for every signal it does not own — the way for an
    /// application that must install its own SIGBUS/SIGSEGV handler after
    /// daxmap's. (Installing it *before* the first `map` needs nothing: daxmap
    /// chains to whatever it found.) A handler of the application's that
    /// chains by itself instead must call the action it replaced, as saved by
    /// its own `sigaction`, for signals it does not own — returning from a
    /// SIGBUS it did not fix re-runs the faulting instruction forever.
    public static func reinstallHandler() throws(DaxError) {
        try DaxRuntime.process.startMonitor()
        let r = cdaxmap_sigbus_reinstall()
        guard r == 0 else {
            throw DaxError(.system, operation: "sigaction", errno: .init(rawValue: -r),
                           message: "cannot reinstall the SIGBUS handler")
        }
    }
}

/// An event seen by the process-wide monitor.
public enum DaxMonitorEvent: Sendable, CustomStringConvertible {
    /// Which of daxmap's handlers another `sigaction` replaced.
    public struct DisplacedSignals: OptionSet, Sendable, Hashable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        /// The `SIGBUS` handler (media failures, removed memory).
        public static let sigbus = DisplacedSignals(rawValue: 1)
        /// The `SIGSEGV` handler (accesses to revoked mappings).
        public static let sigsegv = DisplacedSignals(rawValue: 2)

        init(mask: CInt) {
            var set: DisplacedSignals = []
            if mask & CDAXMAP_DISPLACED_SIGBUS != 0 { set.insert(.sigbus) }
            if mask & CDAXMAP_DISPLACED_SIGSEGV != 0 { set.insert(.sigsegv) }
            self = set
        }
    }

    /// An event of an opened device.
    case device(path: String, DaxDeviceEvent)
    /// A kernel uevent (already checked to come from the kernel): what happened
    /// (`ACTION`, e.g. `unbind`) to which device (`DEVPATH`, below `/sys`).
    /// Only these two: the whole message is daxmap's own business (package `UEvent`).
    case uevent(action: String, devpath: String)
    /// The signal handler's ring was full: this many fault records were not
    /// kept. No failure is lost with them: the holders of the mappings that
    /// faulted are told what failed, re-derived (``DaxFailure/reconstructed``).
    case faultsDropped(UInt64)
    /// Another `sigaction` replaced daxmap's handler (empty: it is daxmap's
    /// again). See ``DaxMonitor/reinstallHandler()``.
    case handlerDisplaced(DisplacedSignals)
    /// This process's retire channel could not be set up (the reason): a
    /// `daxmap retire` cannot reach its holders (``DaxRetirement/channelFailures``).
    case retireChannelUnavailable(reason: String)

    /// The kernel's uevent as the monitor publishes it.
    package static func uevent(_ event: UEvent) -> DaxMonitorEvent {
        .uevent(action: event.action.description, devpath: event.devpath)
    }

    public var description: String {
        switch self {
        case .device(let path, let event): "\(path): \(event)"
        case .uevent(let action, let devpath): "uevent \(action) \(devpath)"
        case .retireChannelUnavailable(let reason): "retire channel unavailable: \(reason)"
        case .faultsDropped(let n): "\(n) fault record(s) dropped (ring full); failures re-derived"
        case .handlerDisplaced(let s):
            s.isEmpty ? "daxmap's signal handler is installed again"
                : "daxmap's \(s.contains(.sigbus) ? "SIGBUS" : "")\(s == [.sigbus, .sigsegv] ? " and " : "")\(s.contains(.sigsegv) ? "SIGSEGV" : "") handler was replaced by another sigaction"
        }
    }
}

/// Counters of the process-wide monitor.
public struct DaxMonitorStatistics: Sendable, Hashable {
    /// Faults in daxmap's ranges recorded by the handler and drained.
    public var faultsRecorded: UInt64
    /// Fault records the handler could not keep (ring full); the failures were re-derived.
    public var faultsDropped: UInt64
    /// Signals outside daxmap's ranges (or not from the kernel), handed to the previous handler.
    public var foreignFaultsChained: UInt64
    /// SIGBUS/SIGSEGV sent by a process (`kill`, `sigqueue`, `tgkill`: `si_code` ≤ 0),
    /// never acted on, chained to the previous handler (counted in ``foreignFaultsChained`` too).
    public var forgedSignals: UInt64
    /// Asynchronous memory-failure notices (`BUS_MCEERR_AO`) for ranges already
    /// released: the tail of a pre-remove storm, absorbed rather than fatal.
    public var lateNotices: UInt64
    /// Times the monitor found daxmap's handler replaced by another `sigaction`.
    public var handlerDisplacements: UInt64
    /// uevent messages refused because they did not come from the kernel.
    public var ueventsRejected: UInt64
    /// uevent messages that did not parse.
    public var ueventsMalformed: UInt64
    /// Whether the netlink uevent socket could be opened (else sysfs is polled).
    public var ueventsAvailable: Bool
}
