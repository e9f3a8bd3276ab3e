/// How the kernel currently uses a device-dax instance.
///
/// The raw values are the strings `daxctl list` prints as `mode`.
public enum DaxDeviceMode: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Bound to `device_dax`: `/dev/daxN.M` can be mapped.
    case devdax
    /// Hot-plugged as system memory through `kmem`: the character device is gone
    /// and the memory belongs to the page allocator.
    case systemRAM = "system-ram"

    public var description: String { rawValue }
}
