/// A CXL HDM decoder (`decoderN.M`): a root decoder is a platform memory window, a port
/// decoder routes a range through a host bridge or switch, an endpoint decoder maps it onto
/// a memdev's device physical addresses (`cxl list -D`).
public struct CxlDecoder: Sendable, Hashable {
    /// Where the decoder sits, the grouping `cxl list -D` prints.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// A platform memory window (ACPI CFMWS), where regions are made.
        case root
        /// A host bridge's or switch's decoder.
        case port
        /// A memdev's decoder: host physical to device physical addresses.
        case endpoint
    }

    /// The kernel name, e.g. `decoder2.0` (`decoder`).
    public var name: String
    /// Where the decoder sits.
    public var kind: Kind
    /// The physical start address (`resource`), `nil` when unknown (reading it needs root).
    public var resource: UInt64?
    /// The size of the range it decodes (`size`), `nil` when unknown.
    public var size: UInt64?
    /// How many targets the range is interleaved over (`interleave_ways`).
    public var interleaveWays: UInt32?
    /// The region the decoder takes part in (`region`), `nil` when none.
    public var region: String?
    /// An endpoint decoder's start in device physical addresses (`dpa_resource`).
    public var dpaResource: UInt64?
    /// An endpoint decoder's size in device physical addresses (`dpa_size`).
    public var dpaSize: UInt64?
    /// An endpoint decoder's partition: `pmem`, `ram`, `mixed` or `none` (`mode`).
    public var mode: String?
    /// A root decoder: it can host persistent regions (`pmem_capable`).
    public var isPmemCapable: Bool
    /// A root decoder: it can host volatile regions (`volatile_capable`).
    public var isVolatileCapable: Bool

    /// A decoder from its parts: for tests of code that reads a topology (discovery makes the real ones).
    public init(
        name: String, kind: Kind, resource: UInt64?, size: UInt64?, interleaveWays: UInt32?, region: String?,
        dpaResource: UInt64?, dpaSize: UInt64?, mode: String?, isPmemCapable: Bool, isVolatileCapable: Bool
    ) {
        self.name = name
        self.kind = kind
        self.resource = resource
        self.size = size
        self.interleaveWays = interleaveWays
        self.region = region
        self.dpaResource = dpaResource
        self.dpaSize = dpaSize
        self.mode = mode
        self.isPmemCapable = isPmemCapable
        self.isVolatileCapable = isVolatileCapable
    }
}
