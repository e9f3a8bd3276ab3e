extension DaxDevice {
    /// The CXL region this device-dax device was made from (its memdevs in
    /// ``CxlRegion/memdevs``), found by physical address through libcxl.
    ///
    /// nil for anything else — an NVDIMM, hmem, a DAX file, an emulated device — and when
    /// the device's address is unreadable (without root) or discovery fails. Each read
    /// takes a fresh snapshot.
    public var cxlRegion: CxlRegion? {
        guard let start = physicalStart, let topology = try? DaxDiscovery.cxlTopology() else { return nil }
        return topology.regions.first { $0.contains(address: start) }
    }
}
