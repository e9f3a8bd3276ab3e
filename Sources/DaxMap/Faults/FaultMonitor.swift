internal import CDaxMap
import Glibc
internal import DaxMapSync

/// The one monitor of the process: a thread that waits on the signal handler's
/// eventfd and the uevent socket, and walks each fault one way:
///
///     handler → event ring → here (FailureCause, FaultClassifier, MappingRegistry)
///             → the device's FailureDispatcher → holders (HolderCalls)
///
/// Nothing here runs in a signal handler, and nothing here waits for a holder.
/// Part of ``DaxRuntime``, which starts it at a device's first mapping.
final class FaultMonitor: Sendable {
    private struct State {
        var started = false
        var removals: RemovalWatcher?
        /// Devices with action-optional notices waiting for their storm decision.
        var pendingNotices: [ObjectIdentifier: DaxDevice] = [:]
    }

    private let state = Locked(State())
    let signals = SignalEvents()
    private var registry: MappingRegistry { DaxRuntime.process.registry }
    /// Events go nowhere until someone asked for a stream (which makes the hub).
    private var events: EventHub? { DaxRuntime.process.eventsIfMade }

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
            s.removals = RemovalWatcher(uevents: UEventSource.open())
            return true
        }
        guard launch else { return }
        guard DetachedThread.start(name: "daxmap-monitor", { self.run() }) else {
            state.withLock { $0.started = false }
            throw DaxError(.system, operation: "pthread_create", errno: .resourceTemporarilyUnavailable,
                           message: "cannot start the fault monitor thread")
        }
    }

    func watch(_ device: DaxDevice) {
        state.withLock { $0.removals }?.watch(device)
    }

    func forget(_ device: DaxDevice) {
        state.withLock { $0.removals }?.forget(device)
    }

    var statistics: DaxMonitorStatistics {
        let uevents = state.withLock { $0.removals?.uevents }
        return DaxMonitorStatistics(
            faultsRecorded: signals.drainedCount, faultsDropped: cdaxmap_events_dropped(),
            foreignFaultsChained: cdaxmap_events_chained(), forgedSignals: cdaxmap_events_forged(),
            lateNotices: cdaxmap_events_late(), handlerDisplacements: signals.displacements,
            ueventsRejected: uevents?.rejectedCount ?? 0, ueventsMalformed: uevents?.malformedCount ?? 0,
            ueventsAvailable: uevents != nil)
    }

    // MARK: - The monitor thread

    private func run() {
        let removals = state.withLock { $0.removals! }
        var fds = [pollfd(fd: signals.wakeDescriptor, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: removals.uevents?.descriptor ?? -1, events: Int16(POLLIN), revents: 0)]
        while true {
            // A periodic wake-up also drains a cell a producer finished after our
            // last look, and checks that nobody displaced the handler.
            let pending = state.withLock { !$0.pendingNotices.isEmpty }
            if case .failure(let e) = Syscalls.poll(&fds, milliseconds: pending ? 5 : 250), e != .interrupted {
                Syscalls.sleep(.milliseconds(1)) // not a busy loop if poll keeps failing (ENOMEM)
            }
            if DrainPauses.paused {
                Syscalls.sleep(.milliseconds(1))
                continue
            }
            signals.acknowledgeWake()
            dispatch(signals.drain())
            let dropped = signals.newlyDropped()
            if dropped > 0 {
                Telemetry.dropped(UInt64(dropped))
                events?.publish(.faultsDropped(dropped))
                reconcileAfterDrops()
            }
            if fds[1].revents & Int16(POLLIN) != 0 {
                for event in removals.drainUEvents() { events?.publish(.uevent(event)) }
            }
            removals.pollIfNeeded()
            decideNotices()
            if let mask = signals.displacementChange() {
                events?.publish(.handlerDisplaced(DaxMonitorEvent.DisplacedSignals(mask: mask)))
            }
        }
    }

    /// Reads each record's cause once (``FailureCause/init(record:)``), reports
    /// it, and hands each device its batch.
    private func dispatch(_ records: [cdaxmap_fault]) {
        guard !records.isEmpty else { return }
        var batches: [ObjectIdentifier: (DaxDevice, [FailureDispatcher.Fault])] = [:]
        for record in records {
            guard let mapping = registry.mapping(record.mapping_id) else { continue }
            let cause = FailureCause(record: record)
            let fault = FaultClassifier(mapping).fault(record, cause)
            Telemetry.fault(fault, kind: mapping.device.kind)
            mapping.device.publish(.fault(fault))
            let key = ObjectIdentifier(mapping.device)
            batches[key, default: (mapping.device, [])].1.append((mapping, fault, cause))
        }
        for (device, batch) in batches.values {
            device.dispatcher.handle(batch)
            notePendingNotices(device)
        }
    }

    /// The ring was full: some records are lost, not the failures. Every
    /// failure is also a mark in the handler's range table, so each device
    /// compares its faulted mappings' marks with what its holders were told.
    private func reconcileAfterDrops() {
        var byDevice: [ObjectIdentifier: (DaxDevice, [DaxMapping])] = [:]
        for mapping in registry.mappingsThatFaulted() {
            byDevice[ObjectIdentifier(mapping.device), default: (mapping.device, [])].1.append(mapping)
        }
        for (device, mappings) in byDevice.values { device.dispatcher.reconcile(mappings) }
    }

    private func notePendingNotices(_ device: DaxDevice) {
        guard device.dispatcher.noticesDue != nil else { return }
        state.withLock { $0.pendingNotices[ObjectIdentifier(device)] = device }
    }

    private func decideNotices() {
        let devices = state.withLock { Array($0.pendingNotices.values) }
        guard !devices.isEmpty else { return }
        let now = ContinuousClock.now
        for device in devices {
            device.dispatcher.decideNotices(now: now)
            if device.dispatcher.noticesDue == nil {
                _ = state.withLock { $0.pendingNotices.removeValue(forKey: ObjectIdentifier(device)) }
            }
        }
    }
}
