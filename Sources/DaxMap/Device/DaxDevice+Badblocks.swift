extension DaxDevice {
    /// Known bad ranges, in device offsets, sorted.
    ///
    /// - Device-dax: the region's badblocks (libndctl), rebased onto the device,
    ///   as read when the device was opened.
    /// - A file on a DAX mount: the block device's badblocks, as read when opened.
    /// - An emulated device: the failures injected into it (``DaxFaultInjector``),
    ///   read from its sidecar file on every call, so a failure injected by
    ///   another process shows here too.
    public var badblocks: [Range<UInt64>] {
        guard kind == .emulated else { return openedBadblocks }
        let injected = (try? InjectionSidecar(devicePath: path).load(operation: "badblocks"))?.failures ?? []
        return RangeLedger.coalesced(openedBadblocks + injected.map(\.range))
    }
}
