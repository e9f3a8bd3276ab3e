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
