/// One NVDIMM (`nmemN`) on an ``NvdimmBus``.
public struct NvdimmDimm: Sendable, Hashable {
    /// The kernel name, e.g. `nmem0` (`dev` in `ndctl list`).
    public var name: String
    /// The vendor's unique id, e.g. `8680-56341200` (`id` in `ndctl list`), when known.
    public var uniqueID: String?
    /// The firmware's handle for the DIMM (`handle`), when known.
    public var handle: UInt32?
    /// The SMBIOS physical id (`phys_id`), when known.
    public var physicalID: UInt16?
    /// How many unsafe shutdowns the DIMM has seen, where the platform counts them.
    public var dirtyShutdown: DirtyShutdownCount

    /// A DIMM from its parts: for tests of code that reads a listing (discovery makes the real ones).
    public init(name: String, uniqueID: String?, handle: UInt32?, physicalID: UInt16?, dirtyShutdown: DirtyShutdownCount) {
        self.name = name
        self.uniqueID = uniqueID
        self.handle = handle
        self.physicalID = physicalID
        self.dirtyShutdown = dirtyShutdown
    }
}
