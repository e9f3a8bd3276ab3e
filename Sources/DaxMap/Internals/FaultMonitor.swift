internal import CDaxMap
import Glibc
import Synchronization
internal import DaxMapSync

/// The one monitor of the process: a thread that waits on the signal handler's
/// eventfd (and the uevent socket), drains the fault ring, turns addresses into
/// device ranges, coalesces storms and hands each event to its device.
/// Nothing here runs in a signal handler.
final class FaultMonitor: Sendable {
    static let shared = FaultMonitor()

    private struct WeakMapping { weak var mapping: DaxMapping? }
    private struct WeakDevice { weak var device: DaxDevice? }

    private struct State {
        var started = false
        var mappings: [UInt64: WeakMapping] = [:]
        var devices: [ObjectIdentifier: WeakDevice] = [:]
        var sinks: [UInt64: AsyncStream<DaxMonitorEvent>.Continuation] = [:]
        var nextSink: UInt64 = 0
        var faultsSeen: UInt64 = 0
        var uevents: UEventSource?
        /// Where netlink is refused or lost events: one sysfs poller per watched device.
        var pollers: [ObjectIdentifier: SysfsPoller] = [:]
    }

    private let state = Locked(State())
    private let mappingIDs = Atomic<UInt64>(1)

    func nextMappingID() -> UInt64 { mappingIDs.wrappingAdd(1, ordering: .relaxed).oldValue }

    /// Installs the signal handler and starts the monitor thread, once.
    func start() throws(DaxError) {
        if state.withLock({ $0.started }) { return }
        let r = cdaxmap_sigbus_install()
        guard r == 0 else {
            throw DaxError(.system, operation: "sigaction", errno: .init(rawValue: -r),
                           message: "cannot install the SIGBUS handler")
        }
        let launch = state.withLock { s -> Bool in
            if s.started { return false }
            s.started = true
            s.uevents = UEventSource.open()
            return true
        }
        guard launch else { return }
        var thread = pthread_t()
        let box = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { arg in
            let monitor = Unmanaged<FaultMonitor>.fromOpaque(arg!).takeRetainedValue()
            monitor.run()
            return nil
        }, box)
        if rc != 0 {
            Unmanaged<FaultMonitor>.fromOpaque(box).release()
            state.withLock { $0.started = false }
            throw DaxError(.system, operation: "pthread_create", errno: .init(rawValue: rc),
                           message: "cannot start the fault monitor thread")
        }
        pthread_detach(thread)
    }

    func register(_ mapping: DaxMapping) {
        state.withLock { s in
            // Entries of deinitialised mappings are dropped now and then, not one by one.
            if s.mappings.count >= 1024 && s.mappings.count.nonzeroBitCount == 1 {
                s.mappings = s.mappings.filter { $0.value.mapping != nil }
            }
            s.mappings[mapping.id] = WeakMapping(mapping: mapping)
            s.devices[ObjectIdentifier(mapping.device)] = WeakDevice(device: mapping.device)
        }
    }

    func watch(_ device: DaxDevice) {
        state.withLock { $0.devices[ObjectIdentifier(device)] = WeakDevice(device: device) }
    }

    func forget(_ device: DaxDevice) {
        state.withLock { s in
            s.devices.removeValue(forKey: ObjectIdentifier(device))
            s.pollers.removeValue(forKey: ObjectIdentifier(device))
        }
    }

    // MARK: - Process-wide event stream

    func events() -> AsyncStream<DaxMonitorEvent> {
        let (stream, continuation) = AsyncStream<DaxMonitorEvent>.makeStream(bufferingPolicy: .bufferingNewest(4096))
        let id = state.withLock { s -> UInt64 in
            let id = s.nextSink
            s.nextSink += 1
            s.sinks[id] = continuation
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.sinks.removeValue(forKey: id) }
        }
        return stream
    }

    func publish(_ event: DaxDeviceEvent, device: DaxDevice) {
        publish(.device(path: device.path, event))
    }

    func publish(_ event: DaxMonitorEvent) {
        let sinks = state.withLock { Array($0.sinks.values) }
        for sink in sinks { sink.yield(event) }
    }

    var statistics: DaxMonitorStatistics {
        let (faults, uevents) = state.withLock { ($0.faultsSeen, $0.uevents) }
        return DaxMonitorStatistics(
            faultsRecorded: faults, faultsDropped: cdaxmap_events_dropped(),
            foreignFaultsChained: cdaxmap_events_chained(), lateNotices: cdaxmap_events_late(),
            ueventsRejected: uevents?.rejectedCount ?? 0, ueventsMalformed: uevents?.malformedCount ?? 0,
            ueventsAvailable: uevents != nil)
    }

    // MARK: - The monitor thread

    private func run() {
        let wake = cdaxmap_sigbus_eventfd()
        let ueventFD = state.withLock { $0.uevents?.descriptor ?? -1 }
        var fds = [pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: ueventFD, events: Int16(POLLIN), revents: 0)]
        var dropped: UInt64 = 0
        while true {
            // A periodic wake-up also drains a cell a producer finished after our last look.
            let n = poll(&fds, nfds_t(fds.count), 250)
            if n < 0 && errno != EINTR { usleep(1000) }
            if fds[0].revents & Int16(POLLIN) != 0 {
                var counter: UInt64 = 0
                _ = read(wake, &counter, 8)
            }
            cdaxmap_events_rearm()
            drainFaults()
            if fds[1].revents & Int16(POLLIN) != 0 { drainUEvents() }
            let nowDropped = cdaxmap_events_dropped()
            if nowDropped != dropped {
                publish(.faultsDropped(nowDropped - dropped))
                dropped = nowDropped
            }
            pollSysfsFallback()
        }
    }

    private func drainFaults() {
        var batch: [(DaxMapping, cdaxmap_fault)] = []
        var record = cdaxmap_fault()
        while cdaxmap_events_take(&record) == 1 {
            let mapping = state.withLock { s -> DaxMapping? in
                s.faultsSeen += 1
                return s.mappings[record.mapping_id]?.mapping
            }
            if let mapping { batch.append((mapping, record)) }
        }
        guard !batch.isEmpty else { return }
        // Coalesce: one notification per (device, kind, range); a device already
        // going or gone only reports its faults.
        var pending: [ObjectIdentifier: (DaxDevice, [FaultAction])] = [:]
        for (mapping, raw) in batch {
            let fault = translate(raw, mapping)
            mapping.device.emit(.fault(fault))
            let key = ObjectIdentifier(mapping.device)
            var entry = pending[key] ?? (mapping.device, [])
            entry.1.append(FaultAction(fault: fault))
            pending[key] = entry
        }
        for (device, actions) in pending.values {
            Task { await device.handleFaults(actions) }
        }
    }

    private func translate(_ raw: cdaxmap_fault, _ mapping: DaxMapping) -> DaxFault {
        let start = UInt64(UInt(bitPattern: mapping.base.pointer))
        let address = raw.address >= start ? raw.address - start : 0
        var range: Range<UInt64>
        if raw.flags & UInt32(CDAXMAP_EVENT_REPLACED) != 0 && raw.lost_length > 0 {
            let lo = mapping.offset + (raw.lost_start - start)
            range = lo..<(lo + raw.lost_length)
        } else {
            let extent = UInt64(1) << UInt64(raw.addr_lsb > 0 ? raw.addr_lsb : 12)
            let lo = (mapping.offset + address) & ~(extent - 1)
            range = lo..<(lo + extent)
        }
        let cause: DaxFault.Cause
        if raw.signo == SIGSEGV {
            cause = .accessAfterRevoke
        } else {
            switch raw.code {
            case BUS_ADRERR_: cause = .addressError
            case BUS_MCEERR_AR_: cause = .memoryFailureActionRequired
            case BUS_MCEERR_AO_: cause = .memoryFailureActionOptional
            default: cause = .other
            }
        }
        return DaxFault(cause: cause, device: mapping.device.path, range: range, mappingID: raw.mapping_id,
                        guarded: raw.flags & UInt32(CDAXMAP_EVENT_GUARDED) != 0,
                        replaced: raw.flags & UInt32(CDAXMAP_EVENT_REPLACED) != 0,
                        signal: raw.signo, code: raw.code, addressLSB: raw.addr_lsb, thread: raw.tid)
    }

    // MARK: - uevents

    private func drainUEvents() {
        guard let source = state.withLock({ $0.uevents }) else { return }
        let (events, lost) = source.receiveAll()
        for event in events {
            publish(.uevent(event))
            routeUEvent(event)
        }
        // The kernel dropped messages: look at the devices directly.
        if lost { checkDevicesDirectly() }
    }

    private func routeUEvent(_ event: UEvent) {
        let devices = state.withLock { $0.devices.values.compactMap { $0.device } }
        for device in devices {
            guard let identity = device.eventIdentity else { continue }
            switch RemovalClassifier(identity: identity).classify(event) {
            case .removed?:
                device.ueventRemovals.add(1, ordering: .relaxed)
                if device.lifecycle == .alive { Task { await device.remove(source: .uevent) } }
            case .returned?:
                if device.lifecycle == .gone { device.emit(.returned(device: device.path)) }
            case nil:
                break
            }
        }
    }

    /// Where netlink is refused, watch the devices' sysfs nodes instead.
    private func pollSysfsFallback() {
        guard state.withLock({ $0.uevents == nil }) else { return }
        checkDevicesDirectly()
    }

    /// Looks at each watched device's sysfs node: gone or unbound is a removal,
    /// back is a return. Used when netlink is refused or the kernel dropped events.
    private func checkDevicesDirectly() {
        let devices = state.withLock { $0.devices.values.compactMap { $0.device } }
        for device in devices {
            guard let identity = device.eventIdentity else { continue }
            let poller = state.withLock { s -> SysfsPoller in
                let key = ObjectIdentifier(device)
                if let p = s.pollers[key] { return p }
                let p = SysfsPoller(identity: identity)
                s.pollers[key] = p
                return p
            }
            switch poller.check() {
            case .removed?:
                if device.lifecycle == .alive { Task { await device.remove(source: .sysfs) } }
            case .returned?:
                if device.lifecycle == .gone { device.emit(.returned(device: device.path)) }
            case nil:
                break
            }
        }
    }
}

/// One fault, with what the device should do about it.
struct FaultAction: Sendable {
    var fault: DaxFault
}
