internal import DaxMapSync

/// What tells the monitor a device is going or back without a fault: kernel
/// uevents (netlink, kernel-only), matched by ``RemovalClassifier``, and sysfs
/// pollers where netlink is refused or the kernel dropped messages.
final class RemovalWatcher: Sendable {
    private struct WeakDevice { weak var device: DaxDevice? }

    private struct State {
        var devices: [ObjectIdentifier: WeakDevice] = [:]
        var pollers: [ObjectIdentifier: SysfsPoller] = [:]
    }

    private let state = Locked(State())
    /// nil where netlink is not available: then sysfs is polled on every wake.
    let uevents: UEventSource?

    init(uevents: UEventSource?) {
        self.uevents = uevents
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

    /// The devices still alive; entries (and pollers) of deinitialised ones are
    /// dropped here, so a new device at a reused address never meets a stale poller.
    private var watched: [DaxDevice] {
        state.withLock { s in
            for (key, entry) in s.devices where entry.device == nil {
                s.devices.removeValue(forKey: key)
                s.pollers.removeValue(forKey: key)
            }
            return s.devices.values.compactMap(\.device)
        }
    }

    /// Reads every pending uevent and acts on it; returns them for the process stream.
    func drainUEvents() -> [UEvent] {
        guard let uevents else { return [] }
        let (events, lost) = uevents.receiveAll()
        let devices = watched
        for event in events {
            for device in devices {
                guard let identity = device.eventIdentity else { continue }
                let transition = RemovalClassifier(identity: identity).classify(event)
                if transition == .removed { device.dispatcher.removalUEvents.add(1, ordering: .relaxed) }
                act(transition, on: device, source: .uevent)
            }
        }
        // The kernel dropped messages: look at the devices directly.
        if lost { poll() }
        return events
    }

    /// Where netlink is refused, the periodic look at sysfs.
    func pollIfNeeded() {
        if uevents == nil { poll() }
    }

    private func poll() {
        for device in watched {
            guard let identity = device.eventIdentity else { continue }
            let poller = state.withLock { s -> SysfsPoller in
                let key = ObjectIdentifier(device)
                if let p = s.pollers[key] { return p }
                let p = SysfsPoller(identity: identity)
                s.pollers[key] = p
                return p
            }
            act(poller.check(), on: device, source: .sysfs)
        }
    }

    private func act(_ transition: DeviceTransition?, on device: DaxDevice, source: RemovalSource) {
        switch transition {
        case .removed?:
            if device.lifecycle == .alive { device.dispatcher.startRemoval(source: source) }
        case .returned?:
            if device.lifecycle == .gone { device.publish(.returned(device: device.path)) }
        case nil:
            break
        }
    }
}
