internal import CDaxMap
import Glibc
internal import DaxMapSync

/// What an opened device is, below its API: the path, kind and size it was
/// opened with, its descriptor and its lifecycle. Shared by the ``DaxDevice``
/// that owns it and by that device's ``FailureDispatcher``, which needs the
/// device's facts but must not own (or point back at) the device: ownership
/// runs DaxDevice → dispatcher → handle, and DaxDevice → handle.
///
/// Owns the descriptor: it is closed by ``close()``, by a removal
/// (``markGone()``), or when the last owner lets go — a removal in flight keeps
/// the handle, so the descriptor stays open until the removal is done.
final class DeviceHandle: Sendable {
    struct State {
        var lifecycle: DaxDevice.Lifecycle = .alive
        var descriptor: CInt
    }

    let path: String
    let kind: DaxDeviceKind
    /// Bytes that can be mapped.
    let size: UInt64
    /// `st_dev`/`st_rdev` and inode of what was opened, to recognise it again.
    let identity: FileIdentity
    /// What removal uevents are matched against (nil for emulated devices).
    let eventIdentity: DaxDeviceIdentity?
    let options: DaxDevice.OpenOptions
    let state: Locked<State>

    init(path: String, kind: DaxDeviceKind, size: UInt64, identity: FileIdentity,
         eventIdentity: DaxDeviceIdentity?, options: DaxDevice.OpenOptions, descriptor: CInt) {
        self.path = path
        self.kind = kind
        self.size = size
        self.identity = identity
        self.eventIdentity = eventIdentity
        self.options = options
        self.state = Locked(State(descriptor: descriptor))
    }

    deinit {
        let fd = state.withLock { $0.descriptor }
        if fd >= 0 { Syscalls.close(fd) }
        DaxRuntime.process.eventsIfMade?.finish(self)
    }

    /// The current lifecycle state.
    var lifecycle: DaxDevice.Lifecycle { state.withLock { $0.lifecycle } }

    /// Closed by its owner: lifecycle `.closed` (unless gone), descriptor closed.
    func close() {
        let fd: CInt = state.withLock { s in
            if s.lifecycle == .alive || s.lifecycle == .going { s.lifecycle = .closed }
            let fd = s.descriptor
            s.descriptor = -1
            return fd
        }
        closeDescriptor(fd)
    }

    /// Freeze: from now on `map` throws `.deviceGoing`.
    func freeze() {
        state.withLock { s in if s.lifecycle == .alive { s.lifecycle = .going } }
    }

    /// The end of a removal: gone (unless closed meanwhile), descriptor closed.
    func markGone() {
        let fd = state.withLock { s -> CInt in
            if s.lifecycle != .closed { s.lifecycle = .gone }
            let fd = s.descriptor
            s.descriptor = -1
            return fd
        }
        closeDescriptor(fd)
    }

    private func closeDescriptor(_ fd: CInt) {
        guard fd >= 0 else { return }
        DaxRegionClaim.deviceClosing(self, descriptor: fd)
        Syscalls.close(fd)
    }

    /// An event of this device, to its streams and the process streams (if
    /// anyone asked for a stream: the hub is made by the first).
    func publish(_ event: DaxDeviceEvent) {
        DaxRuntime.process.eventsIfMade?.publish(event, of: self)
    }

    /// The size of the file behind a DAX file or emulated device now (nil for
    /// device-dax, or when it cannot be read).
    func backingSize() -> UInt64? {
        guard kind != .deviceDax else { return nil }
        let fd = state.withLock { $0.descriptor }
        guard fd >= 0, case .success(let st) = Syscalls.status(of: fd) else { return nil }
        return UInt64(max(st.st_size, 0))
    }

    /// Whether the memory behind this device has gone: the device-dax node is
    /// unbound, removed or given to kmem as system RAM, or the file was truncated
    /// to nothing or deleted.
    func hasVanished() -> Bool {
        switch kind {
        case .deviceDax:
            let rdev = identity.rdev
            return !Sysfs.servesDeviceDax(driver: Sysfs.driver(ofCharDevice: cdaxmap_dev_major(rdev), minor: cdaxmap_dev_minor(rdev)))
        case .fsdaxFile, .emulated:
            // The block device under a DAX file system disappears with its pfn/namespace.
            if let devpath = eventIdentity?.devpath, !Sysfs.exists(devpath) { return true }
            let fd = state.withLock { $0.descriptor }
            guard fd >= 0, case .success(let st) = Syscalls.status(of: fd) else { return true }
            return st.st_size == 0 || st.st_nlink == 0
        }
    }
}
