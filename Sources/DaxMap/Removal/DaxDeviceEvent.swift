/// Something that happened to a device, for services that prefer a stream
/// (``DaxDevice/events()``, ``DaxMonitor/events()``) to holder callbacks.
public enum DaxDeviceEvent: Sendable, CustomStringConvertible {
    /// A SIGBUS or SIGSEGV in one of the device's mappings.
    case fault(DaxFault)
    /// Holders were told about a failure (each failed range once per holder).
    case notified(DaxFailure, holders: Int)
    /// A holder's `notifyFailure` returned (`holder`: its description or type).
    case answered(DaxFailure, holder: String, handled: Bool)
    /// A removal started (freeze): `source` says how daxmap learned of it.
    case removalStarted(device: String, source: RemovalSource)
    /// A removal finished: every mapping released or revoked, descriptor closed.
    case removalCompleted(DaxRemovalReport)
    /// The device is back (uevent add/bind): ``DaxDevice/reopen()`` works.
    case returned(device: String)

    public var description: String {
        switch self {
        case .fault(let f): "fault: \(f)"
        case .notified(let failure, let holders): "notified \(holders) holder(s): \(failure)"
        case .answered(let failure, let holder, let handled): "\(holder) answered \(handled) to \(failure)"
        case .removalStarted(let device, let source): "removal of \(device) started (\(source))"
        case .removalCompleted(let report): "removal completed: \(report)"
        case .returned(let device): "\(device) is back"
        }
    }
}

/// How daxmap learned that a device is going.
public enum RemovalSource: String, Sendable, Hashable, CustomStringConvertible {
    /// A kernel uevent (unbind/remove of the device or a parent).
    case uevent
    /// A sysfs poll saw the device or its driver disappear (netlink refused).
    case sysfs
    /// `BUS_MCEERR_AO` over the device (the fsdax pre-remove storm).
    case memoryFailure
    /// `BUS_ADRERR` on a device that has vanished (node gone, file truncated to nothing).
    case accessError
    /// The program asked for it (``DaxDevice/beginRemoval(deadline:)``).
    case request
    /// A removal injected on demand (DaxMapTesting's `DaxFaultInjector.remove(deadline:)`).
    case injected
    /// An operator's planned removal (``DaxRetirement/retire(path:deadline:then:)``,
    /// `daxmap retire`), possibly from another process.
    case `operator`
    /// A simulated power failure (DaxMapTesting's `DaxPersistenceSimulator`): no warning, so
    /// every mapping is revoked first and holders are told ``DaxFailure/Kind/removed``.
    case powerFailure

    /// No warning came: mappings are revoked before holders are told, and told
    /// the memory is gone rather than asked to release it.
    public var isAbrupt: Bool { self == .powerFailure }

    public var description: String { rawValue }
}
