import Glibc
internal import DaxMapSync

/// Watches one device by looking at sysfs every so often: the fallback where the netlink
/// uevent socket is refused (see ``UEventListener/isUnavailable(_:)``).
///
/// Thread-safe; owns no descriptors. Each look finds the device — through
/// `<sysfsRoot>/dev/{char,block}/MAJ:MIN` when the identity has a device number, so a
/// device that comes back under another parent (dax0.0 under dax0.1 after
/// `ndctl enable-region`) is found; else at the identity's path — and whether it is bound.
///
/// "Bound" means a `driver` link in the device's directory, if the device had one when
/// the poller was created (device-dax, whose `device_dax` unbind leaves the device in
/// place), leading to any driver but `kmem` (system-ram mode); devices that never have
/// one (the pmem block device) are bound while present.
///
/// - Warning: polling misses an unbind and bind that both happen between two looks
///   (`daxctl disable-device; daxctl enable-device` in quick succession). Only the
///   uevent socket sees those; prefer it wherever it is available.
final class SysfsPoller: Sendable {
    /// What one look at sysfs found.
    enum State: Sendable, Hashable {
        /// Present at `devpath` and bound to its driver.
        case bound(devpath: String)
        /// Present at `devpath`, no driver.
        case unbound(devpath: String)
        /// Not in sysfs.
        case absent
    }

    /// The device watched.
    let identity: DaxDeviceIdentity
    /// Where sysfs is mounted; a temporary tree in tests.
    let sysfsRoot: String
    /// How long ``next(timeout:)`` sleeps between looks.
    let interval: Duration
    private let requiresDriver: Bool
    private let last: Locked<State>

    /// Starts watching; the first look happens now and sets the baseline.
    /// - Parameters:
    ///   - identity: the device, resolved while it was open and bound.
    ///   - sysfsRoot: `/sys`, or a fake tree.
    ///   - interval: time between looks in ``next(timeout:)``.
    init(identity: DaxDeviceIdentity, sysfsRoot: String = "/sys", interval: Duration = .milliseconds(100)) {
        self.identity = identity
        self.sysfsRoot = sysfsRoot.hasSuffix("/") ? String(sysfsRoot.dropLast()) : sysfsRoot
        self.interval = interval
        self.requiresDriver = Sysfs.exists(identity.devpath + "/driver", root: self.sysfsRoot)
        self.last = Locked(.absent)
        let now = look()
        last.withLock { $0 = now }
    }

    /// The state found by the latest look.
    var state: State { last.withLock { $0 } }

    /// Looks once and reports a transition since the previous look, if any.
    ///
    /// A device found bound at a new path counts as removed (the device you mapped is
    /// gone); the next look then reports it ``DeviceTransition/returned``.
    func check() -> DeviceTransition? {
        last.withLock { previous -> DeviceTransition? in
            let now = look()
            let before = previous
            previous = now
            switch (before, now) {
            case (.bound(let old), .bound(let new)) where old != new:
                previous = .absent  // so that the next look reports .returned
                return .removed
            case (.bound, .unbound), (.bound, .absent):
                return .removed
            case (.unbound, .bound), (.absent, .bound):
                return .returned
            default:
                return nil
            }
        }
    }

    /// Looks every ``interval`` until a transition, or until `timeout` (nil: forever).
    /// - Returns: the transition, or nil on timeout.
    @available(*, noasync, message: "blocks the thread; call it from a dedicated monitor thread")
    func next(timeout: Duration?) -> DeviceTransition? {
        let clock = ContinuousClock()
        let deadline = timeout.map { clock.now.advanced(by: $0) }
        while true {
            if let transition = check() { return transition }
            var pause = interval
            if let deadline {
                let left = clock.now.duration(to: deadline)
                if left <= .zero { return nil }
                pause = min(pause, left)
            }
            Syscalls.sleep(pause)
        }
    }

    /// One look at sysfs, with no state change.
    func look() -> State {
        var devpath = identity.devpath
        if let kind = identity.kind, let major = identity.major, let minor = identity.minor {
            let link = "\(sysfsRoot)/dev/\(kind.rawValue)/\(major):\(minor)"
            if let real = Syscalls.realpath(link), let path = DaxDeviceIdentity.stripRoot(real, sysfsRoot) {
                devpath = path
            } else if Sysfs.exists("/dev/\(kind.rawValue)", root: sysfsRoot) {
                return .absent  // sysfs lists device numbers and ours is not among them
            }
        }
        guard Sysfs.exists(devpath, root: sysfsRoot) else { return .absent }
        if requiresDriver && !Sysfs.exists(devpath + "/driver", root: sysfsRoot) { return .unbound(devpath: devpath) }
        // Bound to kmem (system-ram mode) is no device-dax either: the memory went to the page allocator.
        if requiresDriver, let driver = Syscalls.readlink(sysfsRoot + devpath + "/driver"),
           !Sysfs.servesDeviceDax(driver: driver) {
            return .unbound(devpath: devpath)
        }
        return .bound(devpath: devpath)
    }
}
