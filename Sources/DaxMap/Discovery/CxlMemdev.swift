/// A CXL memory device (`memN`): one type-3 device's capacity, as `cxl list -M` shows it.
///
/// A snapshot taken by ``DaxDiscovery/cxlTopology()``; names are not stable from boot to boot,
/// the serial is.
public struct CxlMemdev: Sendable, Hashable {
    /// The kernel name, e.g. `mem0` (`memdev` in `cxl list`).
    public var name: String
    /// The persistent capacity in bytes (`pmem_size`), `nil` when none or unknown.
    public var pmemSize: UInt64?
    /// The volatile capacity in bytes (`ram_size`), `nil` when none or unknown.
    public var ramSize: UInt64?
    /// The device serial number (`serial`), `nil` when the device reports none.
    public var serial: UInt64?
    /// The NUMA node of the device (`numa_node`), `nil` when none.
    public var numaNode: Int?
    /// The PCI device that hosts it, e.g. `0000:0d:00.0` (`host`).
    public var host: String?

    /// A memdev from its parts: for tests of code that reads a topology (discovery makes the real ones).
    public init(name: String, pmemSize: UInt64?, ramSize: UInt64?, serial: UInt64?, numaNode: Int?, host: String?) {
        self.name = name
        self.pmemSize = pmemSize
        self.ramSize = ramSize
        self.serial = serial
        self.numaNode = numaNode
        self.host = host
    }
}
