/// How the kernel currently uses a device-dax instance.
///
/// The raw values are the strings `daxctl list` prints as `mode`.
public enum DaxDeviceMode: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Bound to `device_dax`: `/dev/daxN.M` can be mapped.
    case devdax
    /// Hot-plugged as system memory through `kmem`: the memory belongs to the page
    /// allocator, reached through the device's NUMA node; `/dev/daxN.M` may still
    /// exist but has no device-dax behind it (opening it fails with `ENXIO`, and
    /// ``DaxDevice/open(_:options:)`` refuses it with ``DaxError/Code-swift.struct/systemRAM``).
    case systemRAM = "system-ram"

    public var description: String { rawValue }
}
