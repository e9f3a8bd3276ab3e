/// What an NVDIMM namespace is configured as, in `ndctl` vocabulary.
///
/// The raw values are the strings `ndctl list` prints as `mode`.
///
/// The corresponding C type is `enum ndctl_namespace_mode`.
public enum NamespaceMode: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// A block device (`/dev/pmemN`) whose file systems can be mounted with `-o dax`.
    ///
    /// The corresponding C constant is `NDCTL_NS_MODE_FSDAX`.
    case fsdax
    /// A character device (`/dev/daxN.M`) that is mapped directly.
    ///
    /// The corresponding C constant is `NDCTL_NS_MODE_DEVDAX`.
    case devdax
    /// A block device behind a BTT (atomic sector updates, no DAX).
    ///
    /// The corresponding C constant is `NDCTL_NS_MODE_SECTOR`.
    case sector
    /// A plain block device without a `struct page` map (no DAX).
    ///
    /// The corresponding C constant is `NDCTL_NS_MODE_RAW`.
    case raw
    /// Anything else the library reports.
    ///
    /// The corresponding C constant is `NDCTL_NS_MODE_UNKNOWN`.
    case unknown

    public var description: String { rawValue }
}
