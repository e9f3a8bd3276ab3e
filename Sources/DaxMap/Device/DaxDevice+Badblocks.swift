extension DaxDevice {
    /// Known bad ranges, in device offsets, sorted.
    ///
    /// - Device-dax: the region's badblocks (libndctl), rebased onto the device,
    ///   as read when the device was opened.
    /// - A file on a DAX mount: the block device's badblocks, as read when opened.
    /// - An emulated device: the failures injected into it (DaxMapTesting's
    ///   `DaxFaultInjector`), read from its sidecar file on every call, so a
    ///   failure injected by another process shows here too (in a process that
    ///   links DaxMapTesting; none otherwise).
    public var badblocks: [Range<UInt64>] {
        guard kind == .emulated else { return openedBadblocks }
        let injected = EmulatedFailures.current?.injected(devicePath: path) ?? []
        return RangeLedger.coalesced(openedBadblocks + injected)
    }
}
