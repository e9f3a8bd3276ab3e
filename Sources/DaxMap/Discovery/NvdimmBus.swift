/// An NVDIMM bus (`ndbusN`): one firmware interface (ACPI NFIT, PAPR, e820
/// legacy pmem...) with its DIMMs and regions.
public struct NvdimmBus: Sendable, Hashable {
    /// Who provides the bus, e.g. `ACPI.NFIT` (`provider` in `ndctl list`).
    public var provider: String
    /// The kernel name, e.g. `ndbus0` (`dev`).
    public var name: String
    /// The DIMMs on the bus.
    public var dimms: [NvdimmDimm]
    /// The regions on the bus.
    public var regions: [NvdimmRegion]

    /// A bus from its parts: for tests of code that reads a listing (discovery makes the real ones).
    public init(provider: String, name: String, dimms: [NvdimmDimm], regions: [NvdimmRegion]) {
        self.provider = provider
        self.name = name
        self.dimms = dimms
        self.regions = regions
    }
}
