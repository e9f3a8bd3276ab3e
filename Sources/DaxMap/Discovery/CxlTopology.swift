/// The CXL memory of this machine as libcxl sees it: memdevs, decoders and regions.
///
/// A snapshot taken by ``DaxDiscovery/cxlTopology()``; empty on a machine without CXL.
public struct CxlTopology: Sendable, Hashable {
    /// Every memdev.
    public var memdevs: [CxlMemdev]
    /// Every decoder, root decoders first, then port (host bridge, switch) decoders, then endpoint decoders.
    public var decoders: [CxlDecoder]
    /// Every region, under whichever root decoder.
    public var regions: [CxlRegion]

    /// A topology from its parts (empty by default: no CXL): for tests of code that reads one.
    public init(memdevs: [CxlMemdev] = [], decoders: [CxlDecoder] = [], regions: [CxlRegion] = []) {
        self.memdevs = memdevs
        self.decoders = decoders
        self.regions = regions
    }

    /// Nothing CXL.
    public var isEmpty: Bool { memdevs.isEmpty && decoders.isEmpty && regions.isEmpty }

    /// The region whose physical range holds the device's start (a device-dax instance
    /// made from a CXL region's nd region), nil when none or its address is unknown.
    public func region(forDaxDevice device: DaxDeviceInfo) -> CxlRegion? {
        guard let address = device.resource else { return nil }
        return regions.first { $0.contains(address: address) }
    }

    /// The region whose physical range holds the NVDIMM region's start (cxl_pmem's nd
    /// region hangs off the nvdimm bridge, not under the CXL region, so only the address
    /// ties them).
    public func region(forNvdimmRegion region: NvdimmRegion) -> CxlRegion? {
        guard let address = region.resource else { return nil }
        return regions.first { $0.contains(address: address) }
    }
}
