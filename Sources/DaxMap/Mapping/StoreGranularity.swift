/// The smallest unit a store must be flushed in to be persistent, as libpmem2's
/// `pmem2_granularity`. Ordered: `.byte` < `.cacheLine` < `.page`.
public enum StoreGranularity: Int, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The CPU caches are in the persistence domain (`persistence_domain` is
    /// `cpu_cache`): a store is persistent once drained (`sfence`).
    case byte = 0
    /// Stores must be flushed per cache line (`clwb`/`clflushopt`/`clflush`) and
    /// drained: device-dax, or a file on a DAX mount mapped with `MAP_SYNC`.
    case cacheLine = 1
    /// Pages must be written back with `msync`: an emulated device, or a DAX
    /// file mapped without `MAP_SYNC`.
    case page = 2

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// `byte`, `cacheline` or `page`.
    public var description: String {
        switch self {
        case .byte: "byte"
        case .cacheLine: "cacheline"
        case .page: "page"
        }
    }
}
