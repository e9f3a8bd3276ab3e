/// The monitor's view of the uevent listener: drain everything readable, count
/// what was refused. nil from `open()` where netlink is not available (then the
/// monitor polls sysfs).
final class UEventSource: Sendable {
    let listener: UEventListener

    private init(_ listener: UEventListener) { self.listener = listener }

    static func open() -> UEventSource? {
        do { return UEventSource(try UEventListener()) } catch { return nil }
    }

    var descriptor: CInt { listener.fileDescriptor }
    var rejectedCount: UInt64 { UInt64(listener.forgedCount) }
    var malformedCount: UInt64 { UInt64(listener.malformedCount) }

    /// Every message readable now. `lost` is set when the kernel dropped some
    /// (receive queue overflow): the caller re-checks its devices.
    func receiveAll() -> (events: [UEvent], lost: Bool) {
        var events: [UEvent] = []
        var lost = false
        while events.count < 4096 {
            switch try? listener.receive() {
            case .event(let e)?: events.append(e)
            case .eventsLost?: lost = true
            case nil: return (events, lost)
            }
        }
        return (events, lost)
    }
}
