/// A DAX region: a range of memory the kernel carves device-dax instances out
/// of (from an NVDIMM namespace in devdax mode, a CXL region, `hmem`...).
///
/// A snapshot taken by ``DaxDiscovery/daxRegions()``; region ids are not
/// stable from boot to boot.
public struct DaxRegion: Sendable, Hashable {
    /// The region id (`id` in `daxctl list`).
    public var id: Int
    /// The sysfs path of the device that provides the region, e.g.
    /// `/sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0`.
    /// `daxctl list` prints it without the `/sys/devices` prefix.
    public var path: String
    /// The size in bytes, `nil` when the kernel does not say.
    public var size: UInt64?
    /// The region's alignment in bytes, `nil` when the kernel does not say.
    public var align: UInt64?
    /// The device-dax instances in the region, seeds included.
    public var devices: [DaxDeviceInfo]

    /// A region from its parts: for tests of code that reads a listing (discovery makes the real ones).
    public init(id: Int, path: String, size: UInt64?, align: UInt64?, devices: [DaxDeviceInfo]) {
        self.id = id
        self.path = path
        self.size = size
        self.align = align
        self.devices = devices
    }
}
