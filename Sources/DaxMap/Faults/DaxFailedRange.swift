/// A range of a mapping that daxmap no longer trusts, with why: what
/// ``DaxMapping/failures`` lists.
public struct DaxFailedRange: Sendable, Hashable, CustomStringConvertible {
    /// Why the range is not trusted.
    public enum Kind: String, Sendable, Hashable, CustomStringConvertible {
        /// The kernel reported a memory failure (poison, `BUS_MCEERR_AR`/`AO`):
        /// guarded accesses throw `.mediaFailure`.
        case poison
        /// No memory behind it any more (`BUS_ADRERR`: the file was truncated,
        /// the device unbound): guarded accesses throw `.deviceRemoved`.
        case removed
        /// An unguarded access faulted and the pages were replaced by anonymous
        /// memory: what a raw pointer reads there is not the device's data.
        case pagesLost

        public var description: String { rawValue }
    }

    /// Device offsets.
    public var range: Range<UInt64>
    /// Why the range is not trusted.
    public var kind: Kind

    /// A failed range from its parts: for tests of code that reads failures.
    public init(range: Range<UInt64>, kind: Kind) {
        self.range = range
        self.kind = kind
    }

    public var description: String { "\(kind) [\(range.lowerBound), \(range.upperBound))" }
}
