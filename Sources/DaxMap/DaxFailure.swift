/// A failure of device memory, as a holder is told about it: the twin of the
/// kernel's `notify_failure(dax_dev, offset, len, mf_flags)`.
public struct DaxFailure: Sendable, Hashable, CustomStringConvertible {
    /// What happened to the range.
    public enum Kind: String, Sendable, Hashable, CustomStringConvertible {
        /// Poison consumed by a thread (`BUS_MCEERR_AR`): the access could not complete.
        case memoryFailureActionRequired
        /// Poison found but not consumed (`BUS_MCEERR_AO`): stop using the range.
        case memoryFailureActionOptional
        /// The whole device is going (`MF_MEM_PRE_REMOVE`): release every mapping
        /// of it before the deadline, after which what is left is revoked.
        case preRemove
        /// The memory is gone (`BUS_ADRERR`: device unbound or file truncated).
        case removed
        /// An unguarded access faulted and the failed pages were replaced with
        /// anonymous memory: whatever the range held is lost to this mapping.
        case pagesLost

        public var description: String { rawValue }
    }

    /// The device's path, e.g. `/dev/dax0.0`.
    public var device: String
    /// The failed range, in device offsets.
    public var range: Range<UInt64>
    public var kind: Kind

    public init(device: String, range: Range<UInt64>, kind: Kind) {
        self.device = device
        self.range = range
        self.kind = kind
    }

    public var description: String {
        "\(kind) on \(device) [\(range.lowerBound), \(range.upperBound))"
    }
}
