/// A device-dax instance (`/dev/daxN.M`) as discovery found it.
///
/// A snapshot: nothing here is kept up to date, and instance names are not
/// stable from boot to boot (`ndctl` warns the same for all its ids).
public struct DaxDeviceInfo: Sendable, Hashable {
    /// The kernel name, e.g. `dax0.0` (`chardev` in `daxctl list`).
    public var name: String
    /// The id of the ``DaxRegion`` this device belongs to.
    public var regionID: Int
    /// The character device's major number.
    public var major: UInt32
    /// The character device's minor number.
    public var minor: UInt32
    /// The size in bytes (0 for an unconfigured seed device).
    public var size: UInt64
    /// The mapping alignment in bytes: offsets and lengths of mappings must be
    /// multiples of it. `nil` when the kernel does not say.
    public var align: UInt64?
    /// The physical start address, `nil` when unknown (reading it needs root).
    public var resource: UInt64?
    /// The NUMA node the memory would join as system RAM, `nil` when none.
    public var targetNode: Int?
    /// Whether a driver is bound (`device_dax` or `kmem`).
    public var isEnabled: Bool
    /// How the kernel uses the device.
    public var mode: DaxDeviceMode
    /// In system-ram mode: how much of its memory is online, and in which zone;
    /// `nil` in devdax mode, or when libdaxctl cannot read it (the device's
    /// `resource` is root-only).
    public var systemRAM: DaxSystemRAM?

    /// A device description from its parts: for tests of code that reads a listing (discovery makes the real ones).
    public init(
        name: String, regionID: Int, major: UInt32, minor: UInt32, size: UInt64, align: UInt64?,
        resource: UInt64?, targetNode: Int?, isEnabled: Bool, mode: DaxDeviceMode,
        systemRAM: DaxSystemRAM? = nil
    ) {
        self.name = name
        self.regionID = regionID
        self.major = major
        self.minor = minor
        self.size = size
        self.align = align
        self.resource = resource
        self.targetNode = targetNode
        self.isEnabled = isEnabled
        self.mode = mode
        self.systemRAM = systemRAM
    }

    /// The character device's path, e.g. `/dev/dax0.0`.
    public var path: String { "/dev/" + name }
}
