/// How far a store must travel before it survives a power failure, as the
/// platform reports it for an NVDIMM region.
///
/// The raw values are the strings `ndctl list` prints as `persistence_domain`.
/// A region whose firmware reports nothing (the `persistence_domain` sysfs
/// attribute is absent, as on qemu's emulated NVDIMM) is ``unknown``; so is any
/// DAX device that no NVDIMM region sits above (CXL, `hmem`, `efi_fake_mem`).
///
/// The corresponding C type is `enum ndctl_persistence_domain`.
public enum PersistenceDomain: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Stores are persistent once they reach the CPU caches (eADR): a fence is enough.
    ///
    /// The corresponding C constant is `PERSISTENCE_CPU_CACHE`.
    case cpuCache = "cpu_cache"
    /// Stores are persistent once they reach the memory controller (ADR): flush
    /// the cache lines, then fence.
    ///
    /// The corresponding C constant is `PERSISTENCE_MEM_CTRL`.
    case memoryController = "memory_controller"
    /// The platform promises nothing.
    ///
    /// The corresponding C constant is `PERSISTENCE_NONE`.
    case none = "none"
    /// The platform did not say. Treat like ``memoryController`` for flushing,
    /// and do not promise more.
    ///
    /// The corresponding C constant is `PERSISTENCE_UNKNOWN`.
    case unknown = "unknown"

    public var description: String { rawValue }
}
