/// An NVDIMM region (`regionN`): a range of persistent memory, interleaved over
/// one or more DIMMs, that namespaces are carved from.
public struct NvdimmRegion: Sendable, Hashable {
    /// The kernel name, e.g. `region0` (`dev` in `ndctl list`).
    public var name: String
    /// The size in bytes, `nil` when unknown.
    public var size: UInt64?
    /// The bytes not yet given to a namespace, `nil` when unknown.
    public var availableSize: UInt64?
    /// The namespace size/offset alignment in bytes, `nil` when unknown.
    public var align: UInt64?
    /// The region type, `pmem` or `blk` (`type`).
    public var type: String?
    /// The physical start address, `nil` when unknown (reading it needs root).
    public var resource: UInt64?
    /// Where stores become persistent (`persistence_domain`).
    public var persistenceDomain: PersistenceDomain
    /// Whether the region driver is bound.
    public var isEnabled: Bool
    /// Known bad media, relative to the start of the region.
    public var badblocks: [Badblock]
    /// The namespaces in the region, seeds and idle ones included.
    public var namespaces: [NvdimmNamespace]

    /// A region from its parts: for tests of code that reads a listing (discovery makes the real ones).
    public init(
        name: String, size: UInt64?, availableSize: UInt64?, align: UInt64?, type: String?, resource: UInt64?,
        persistenceDomain: PersistenceDomain, isEnabled: Bool, badblocks: [Badblock], namespaces: [NvdimmNamespace]
    ) {
        self.name = name
        self.size = size
        self.availableSize = availableSize
        self.align = align
        self.type = type
        self.resource = resource
        self.persistenceDomain = persistenceDomain
        self.isEnabled = isEnabled
        self.badblocks = badblocks
        self.namespaces = namespaces
    }

    /// The number of bad sectors, as `ndctl list` prints `badblock_count`.
    public var badblockCount: UInt64 { badblocks.reduce(0) { $0 + $1.sectorCount } }
}
