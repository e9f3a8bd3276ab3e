/// A failure injected into an emulated device by ``DaxFaultInjector``: what the
/// device's sidecar file records and `DaxDevice/badblocks` lists.
public struct DaxInjectedFailure: Sendable, Hashable, CustomStringConvertible {
    /// What the next access to the range meets.
    public enum Kind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// A media failure (poison): the access raises a real SIGBUS, reported
        /// as a memory failure, action required, of the touched page (with the
        /// page's `si_addr_lsb`); guarded accesses throw `.mediaFailure`.
        case media
        /// Memory removed under the range: the access raises a real SIGBUS
        /// `BUS_ADRERR`, reported as `DaxFailure/Kind/removed` for the
        /// injected range only; guarded accesses throw `.deviceRemoved`.
        case removed

        public var description: String { rawValue }
    }

    /// Device offsets, multiples of the page size.
    public var range: Range<UInt64>
    public var kind: Kind

    public init(range: Range<UInt64>, kind: Kind) {
        self.range = range
        self.kind = kind
    }

    public var description: String { "\(kind) [\(range.lowerBound), \(range.upperBound))" }
}
