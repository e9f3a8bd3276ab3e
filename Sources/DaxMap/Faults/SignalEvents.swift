internal import CDaxMap
import Glibc
internal import DaxMapSync

/// The monitor's side of the signal handler: its wake-up eventfd, its event
/// ring and its counters. Single consumer: the monitor thread.
final class SignalEvents: Sendable {
    private struct State {
        var drained: UInt64 = 0
        var dropped: UInt64 = 0
        var displaced: CInt = 0
        var displacements: UInt64 = 0
    }

    private let state = Locked(State())

    var wakeDescriptor: CInt { cdaxmap_sigbus_eventfd() }

    /// Clears the eventfd and re-arms the handler's wake-up (before draining,
    /// so a record written during the drain wakes the next poll).
    func acknowledgeWake() {
        var counter: UInt64 = 0
        // The eventfd is non-blocking: EAGAIN means nothing was signalled since
        // the last look (a timed wake-up), and the count itself is not used.
        _ = withUnsafeMutableBytes(of: &counter) { Syscalls.read(cdaxmap_sigbus_eventfd(), into: $0) }
        cdaxmap_events_rearm()
    }

    /// Every record in the ring now.
    func drain() -> [cdaxmap_fault] {
        var records: [cdaxmap_fault] = []
        var record = cdaxmap_fault()
        while cdaxmap_events_take(&record) == 1 { records.append(record) }
        if !records.isEmpty { state.withLock { $0.drained += UInt64(records.count) } }
        return records
    }

    /// Records the handler dropped (ring full) since the last call.
    func newlyDropped() -> UInt64 {
        let now = cdaxmap_events_dropped()
        return state.withLock { s in
            defer { s.dropped = now }
            return now - s.dropped
        }
    }

    /// Handlers displaced since the last look, as a CDAXMAP_DISPLACED_* mask
    /// (nil when nothing changed).
    func displacementChange() -> CInt? {
        let now = cdaxmap_sigbus_displaced()
        return state.withLock { s -> CInt? in
            guard now != s.displaced else { return nil }
            if now & ~s.displaced != 0 { s.displacements += 1 }
            s.displaced = now
            return now
        }
    }

    var drainedCount: UInt64 { state.withLock { $0.drained } }
    var displacements: UInt64 { state.withLock { $0.displacements } }
}
