/// An NVDIMM namespace (`namespaceN.M`): the part of a region the kernel turns
/// into one block or character device.
public struct NvdimmNamespace: Sendable, Hashable {
    /// The kernel name, e.g. `namespace0.0` (`dev` in `ndctl list`).
    public var name: String
    /// What the namespace is configured as.
    public var mode: NamespaceMode
    /// The usable size in bytes (after the fsdax/devdax info block, as `ndctl
    /// list` reports it), `nil` when unknown.
    public var size: UInt64?
    /// The namespace's UUID in its usual text form, when it has one (label-less
    /// raw namespaces have none).
    public var uuid: String?
    /// The block device name, e.g. `pmem0` (`blockdev`), for fsdax, sector and raw.
    public var blockDevice: String?
    /// The device-dax instance name, e.g. `dax0.0` (`chardev`), for an enabled devdax namespace.
    public var charDevice: String?
    /// The fsdax/devdax page-map alignment in bytes, when there is one.
    public var align: UInt64?
    /// Whether the namespace is active (enabled and configured).
    public var isActive: Bool
    /// Known bad media, relative to the start of the namespace's data (the
    /// block device's sector 0, or the device-dax instance's offset 0).
    public var badblocks: [Badblock]

    /// A namespace from its parts: for tests of code that reads a listing (discovery makes the real ones).
    public init(
        name: String, mode: NamespaceMode, size: UInt64?, uuid: String?, blockDevice: String?,
        charDevice: String?, align: UInt64?, isActive: Bool, badblocks: [Badblock]
    ) {
        self.name = name
        self.mode = mode
        self.size = size
        self.uuid = uuid
        self.blockDevice = blockDevice
        self.charDevice = charDevice
        self.align = align
        self.isActive = isActive
        self.badblocks = badblocks
    }

    /// The number of bad sectors, as `ndctl list` prints `badblock_count`.
    public var badblockCount: UInt64 { badblocks.reduce(0) { $0 + $1.sectorCount } }
}
