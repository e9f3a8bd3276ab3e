internal import CDaxMap

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
        /// For a truncated file the range is the whole lost tail, told once.
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
    /// What happened: what the holder should do depends on it.
    public var kind: Kind
    /// The holder's mappings this failure concerns. A holder may be told before
    /// the ``DaxDevice/map(offset:length:holder:options:)`` that made one of
    /// them has returned (a removal can start at any moment): these are the
    /// mappings to stop using or close. Empty in events and in failures made by hand.
    public var mappings: [DaxMapping]
    /// True when the signal handler's event ring overflowed and this failure was
    /// re-derived afterwards (from the marks the handler left in its range table
    /// and the backing file's size) instead of read from a fault record. Nothing
    /// that failed is missed; the kind of re-derived poison is `memoryFailureActionOptional`.
    public var reconstructed: Bool
    /// When the failure was observed, in mapping ids: the newest
    /// ``DaxMapping/id`` issued then (a fault's is stamped by the signal
    /// handler as it happens). The failure concerns only mappings with
    /// `id <= epoch` (``concerns(_:)``): memory mapped later over the same
    /// offsets (a holder's reattach after the device came back) holds data
    /// written after the failure, which a late notice must not condemn.
    public var epoch: UInt64

    /// A failure, as a holder is told it (or as a test makes one).
    /// - Parameters:
    ///   - device: the device's path.
    ///   - range: the failed range, in device offsets.
    ///   - kind: what happened to it.
    ///   - mappings: the holder's mappings it concerns.
    ///   - reconstructed: re-derived after the event ring dropped records.
    ///   - epoch: nil: now (the failure concerns the mappings that exist when it is made).
    public init(device: String, range: Range<UInt64>, kind: Kind, mappings: [DaxMapping] = [],
                reconstructed: Bool = false, epoch: UInt64? = nil) {
        self.device = device
        self.range = range
        self.kind = kind
        self.mappings = mappings
        self.reconstructed = reconstructed
        self.epoch = epoch ?? Self.epochNow
    }

    /// Whether this failure was observed while `mapping` existed and touches its range:
    /// false for a mapping made after it, whatever offsets they share.
    public func concerns(_ mapping: DaxMapping) -> Bool {
        mapping.id <= epoch && mapping.deviceRange.overlaps(range)
    }

    /// The newest mapping id issued so far: the epoch of a failure observed now.
    static var epochNow: UInt64 { cdaxmap_epoch_now() }

    public static func == (a: DaxFailure, b: DaxFailure) -> Bool {
        a.device == b.device && a.range == b.range && a.kind == b.kind && a.reconstructed == b.reconstructed
            && a.epoch == b.epoch && a.mappings.map(\.id) == b.mappings.map(\.id)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(device)
        hasher.combine(range)
        hasher.combine(kind)
        hasher.combine(reconstructed)
        hasher.combine(epoch)
        hasher.combine(mappings.map(\.id))
    }

    public var description: String {
        "\(kind) on \(device) [\(range.lowerBound), \(range.upperBound))" + (reconstructed ? " (re-derived after dropped faults)" : "")
    }

    /// The same failure without the mapping references (for event streams,
    /// which must not keep mappings alive).
    var withoutMappings: DaxFailure {
        var copy = self
        copy.mappings = []
        return copy
    }
}
