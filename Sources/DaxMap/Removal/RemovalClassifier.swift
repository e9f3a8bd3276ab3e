/// Decides what a kernel uevent means for one opened device.
///
/// A value with no state: call ``classify(_:)`` for every event, from any thread.
///
/// Rules, checked against real captures of a 6.12 kernel (devdax and fsdax, five ways of
/// taking a namespace away):
/// - `unbind` or `remove` at the device's path or at an ancestor (its dax/pfn seed, its
///   namespace, its region, its bus) -> ``DeviceTransition/removed``. Component-wise, so
///   `region1` never matches `region10`. A `move` away from such a path counts as removal
///   too: the old path is gone.
/// - `add` or `bind` at the device's path or an ancestor -> ``DeviceTransition/returned``.
///   So is an `add`/`bind` of a device with the same subsystem and `DEVNAME` at another
///   path: after `ndctl enable-region` the kernel brings `dax0.0` back under `dax0.1`.
/// - A `bind` of the device (or of one with its `DEVNAME`) to `kmem` -> removed: it became
///   system RAM (`daxctl reconfigure-device --mode=system-ram` unbinds `device_dax`, adds
///   the memory blocks, binds `kmem`), so it is not back until `device_dax` binds it again.
/// - Everything else (`change`, `bdi`, memory blocks going online/offline, other
///   regions, descendants) -> nil.
struct RemovalClassifier: Sendable, Hashable {
    /// The device this classifier watches.
    var identity: DaxDeviceIdentity

    init(identity: DaxDeviceIdentity) {
        self.identity = identity
    }

    /// What `event` means for ``identity``, or nil if it is irrelevant.
    func classify(_ event: UEvent) -> DeviceTransition? {
        switch event.action {
        case .unbind, .remove:
            return identity.isAtOrBelow(event.devpath) ? .removed : nil
        case .move:
            // DEVPATH_OLD is where the device was; our path no longer exists.
            guard let old = event["DEVPATH_OLD"] else { return nil }
            return identity.isAtOrBelow(old) ? .removed : nil
        case .add, .bind:
            // `kmem` binding the device (reconfigure-device --mode=system-ram) takes its
            // memory for the page allocator: still gone, not back.
            if event.action == .bind, event.subsystem == "dax", event.driver == Sysfs.systemRAMDriver {
                return identity.isAtOrBelow(event.devpath) || (identity.devname != nil && event.devname == identity.devname)
                    ? .removed : nil
            }
            if identity.isAtOrBelow(event.devpath) { return .returned }
            if let name = identity.devname, event.devname == name,
                identity.subsystem == nil || identity.subsystem == event.subsystem
            {
                return .returned
            }
            return nil
        case .change, .online, .offline, .other:
            return nil
        }
    }
}
