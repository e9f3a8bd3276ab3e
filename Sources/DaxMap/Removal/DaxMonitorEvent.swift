internal import CDaxMap

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
