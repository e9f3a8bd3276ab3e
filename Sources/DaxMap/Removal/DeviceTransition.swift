/// What a uevent or a sysfs look means for one opened device.
enum DeviceTransition: Sendable, Hashable {
    /// The device, or a device it hangs under, is being unbound or removed:
    /// freeze it, notify its holders, then revoke (the twin of `MF_MEM_PRE_REMOVE`).
    case removed
    /// The device, or a device it hangs under, was added or bound again. It *may* be
    /// back: reopen it and check it is the same memory before trusting it.
    case returned
}
