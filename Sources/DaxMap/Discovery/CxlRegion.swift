/// A CXL region (`regionN` on the CXL bus): a range of host physical addresses decoded onto
/// one or more memdevs, as `cxl list -R` shows it. A committed persistent region is given
/// to libnvdimm as an nd region (on the CXL nvdimm bus), where namespaces and device-dax
/// instances are made from it.
public struct CxlRegion: Sendable, Hashable {
    /// One memdev's share of the region (`mappings` in `cxl list -R`).
    public struct Mapping: Sendable, Hashable {
        /// The position in the interleave set (`position`).
        public var position: UInt32
        /// The memdev, e.g. `mem0` (`memdev`).
        public var memdev: String
        /// The endpoint decoder that maps it, e.g. `decoder2.0` (`decoder`).
        public var decoder: String

        /// A target from its parts: for tests of code that reads a topology.
        public init(position: UInt32, memdev: String, decoder: String) {
            self.position = position
            self.memdev = memdev
            self.decoder = decoder
        }
    }

    /// The kernel name, e.g. `region0` (`region`).
    public var name: String
    /// The root decoder it was made under, e.g. `decoder0.0`.
    public var rootDecoder: String
    /// The physical start address (`resource`), `nil` when unknown (reading it needs root).
    public var resource: UInt64?
    /// The size in bytes (`size`), `nil` when not set yet.
    public var size: UInt64?
    /// `pmem` or `ram`: the mode of its endpoint decoders (libcxl 76 has no region mode getter).
    public var type: String?
    /// How many memdevs the region is interleaved over (`interleave_ways`).
    public var interleaveWays: UInt32?
    /// The interleave granularity in bytes (`interleave_granularity`).
    public var interleaveGranularity: UInt32?
    /// Whether its decoders are committed (`decode_state` `commit`, else `reset`).
    public var isCommitted: Bool
    /// Whether the region driver is bound (`state` `disabled` in `cxl list` when not).
    public var isEnabled: Bool
    /// The memdevs it is made of, by position.
    public var mappings: [Mapping]

    /// A region from its parts: for tests of code that reads a topology (discovery makes the real ones).
    public init(
        name: String, rootDecoder: String, resource: UInt64?, size: UInt64?, type: String?,
        interleaveWays: UInt32?, interleaveGranularity: UInt32?, isCommitted: Bool, isEnabled: Bool,
        mappings: [Mapping]
    ) {
        self.name = name
        self.rootDecoder = rootDecoder
        self.resource = resource
        self.size = size
        self.type = type
        self.interleaveWays = interleaveWays
        self.interleaveGranularity = interleaveGranularity
        self.isCommitted = isCommitted
        self.isEnabled = isEnabled
        self.mappings = mappings
    }

    /// The memdevs of the region, by position.
    public var memdevs: [String] { mappings.sorted { $0.position < $1.position }.map(\.memdev) }

    /// Whether the physical address lies in the region (false when its range is unknown).
    public func contains(address: UInt64) -> Bool {
        guard let start = resource, let size else { return false }
        return address >= start && address - start < size
    }
}
