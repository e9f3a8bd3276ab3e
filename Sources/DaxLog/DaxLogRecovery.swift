import DaxMap

/// What the recovery scan found when a ``DaxLog`` was opened or reattached:
/// the live records' sequence numbers, the ones lost, and why the scan stopped.
public struct DaxLogRecovery: Sendable, Hashable, CustomStringConvertible {
    /// Why the scan stopped.
    public enum StopReason: Sendable, Hashable, CustomStringConvertible {
        /// The next position holds no record of this log: every record written was read.
        case cleanEnd
        /// The last record was being written when the writer stopped (a crash,
        /// a kill, a power loss): its checksum fails and nothing follows. It was
        /// never acknowledged; it is not returned.
        case tornTail(sequence: UInt64, deviceOffset: UInt64)
        /// A record fails its checksum but a valid record follows it: the
        /// media corrupted an acknowledged record. The scan stops there; the
        /// records from `sequence` on are not returned.
        case checksumMismatch(sequence: UInt64, deviceOffset: UInt64)
        /// A failed range (poison, removed memory) holds the record at
        /// `firstLost` and no later record of this log could be found past it:
        /// records from `firstLost` on, if any were written, are lost.
        case failedRange(DaxFailedRange, firstLost: UInt64)

        public var description: String {
            switch self {
            case .cleanEnd: "clean end"
            case .tornTail(let s, let o): "torn tail at sequence \(s) (device offset \(o))"
            case .checksumMismatch(let s, let o): "checksum mismatch at sequence \(s) (device offset \(o))"
            case .failedRange(let r, let s): "failed range \(r) from sequence \(s)"
            }
        }
    }

    /// The first live sequence number (everything before was discarded).
    public var firstSequence: UInt64
    /// The sequence number the next append gets.
    public var nextSequence: UInt64
    /// Records read back intact.
    public var recordCount: Int
    /// Sequence numbers lost to failed ranges (poison, removed memory, pages
    /// lost), or known lost from before (a gap the log wrote when it reattached
    /// after losing them). Never silently skipped: every number in
    /// `firstSequence..<nextSequence` is either a record or here.
    public var lost: [Range<UInt64>]
    /// The failed device ranges the scan met.
    public var failedRanges: [DaxFailedRange]
    /// Why the scan stopped.
    public var stop: StopReason

    public init(firstSequence: UInt64, nextSequence: UInt64, recordCount: Int, lost: [Range<UInt64>],
                failedRanges: [DaxFailedRange], stop: StopReason) {
        self.firstSequence = firstSequence
        self.nextSequence = nextSequence
        self.recordCount = recordCount
        self.lost = lost
        self.failedRanges = failedRanges
        self.stop = stop
    }

    /// How many sequence numbers were lost.
    public var lostCount: UInt64 { lost.reduce(0) { $0 + UInt64($1.count) } }

    public var description: String {
        "records \(firstSequence)..<\(nextSequence): \(recordCount) intact, \(lostCount) lost; stopped at \(stop)"
    }
}
