import DaxMap

/// What the recovery scan found when a ``DaxLog`` was opened or reattached:
/// the live records' sequence numbers, the ones lost, and why the scan stopped.
public struct DaxLogRecovery: Sendable, Hashable, CustomStringConvertible {
    /// Why the scan stopped.
    public enum StopReason: Sendable, Hashable, CustomStringConvertible {
        /// The next position holds no record of this log: every record written was read.
        case cleanEnd
        /// The last append was being written when the writer stopped (a crash,
        /// a kill, a power loss): its record at `sequence` fails its checksum
        /// and no later append follows (records of the same append that reached
        /// the media anyway are erased when the log is opened for writing). It
        /// was never acknowledged; it is not returned. A corrupted last record
        /// looks the same: there is nothing after it to tell them apart, so when
        /// the log's sequence lease says the number may have been handed out it
        /// is also in ``DaxLogRecovery/unaccounted`` (never in ``DaxLogRecovery/lost``).
        case tornTail(sequence: UInt64, deviceOffset: UInt64)
        /// The records from `firstLost` on were acknowledged and a failure
        /// recorded them lost (they are in ``DaxLogRecovery/lost``): the scan
        /// found none of them where they were, at device offset `deviceOffset`
        /// (a truncated file that came back as zeros, say).
        case lostTail(firstLost: UInt64, deviceOffset: UInt64)
        /// Not produced any more: a record that fails its checksum while a later
        /// append is intact is reported in ``DaxLogRecovery/corrupted`` (and
        /// ``DaxLogRecovery/lost``), and the scan goes on past it. Kept so code
        /// that matches on it still compiles.
        case checksumMismatch(sequence: UInt64, deviceOffset: UInt64)
        /// A failed range (poison, removed memory) holds the record at
        /// `firstLost` and no later record of this log could be found past it:
        /// records from `firstLost` on, if any were written, are lost.
        case failedRange(DaxFailedRange, firstLost: UInt64)

        public var description: String {
            switch self {
            case .cleanEnd: "clean end"
            case .tornTail(let s, let o): "torn tail at sequence \(s) (device offset \(o))"
            case .lostTail(let s, let o): "lost tail from sequence \(s) (device offset \(o))"
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
    /// Sequence numbers of acknowledged records known lost: to failed ranges
    /// (poison, removed memory, pages lost), or recorded lost before (by the
    /// log's loss record, written when a process learnt of the loss, or a gap
    /// the log wrote when it reattached after losing them). Never silently
    /// skipped: every number in `firstSequence..<nextSequence` is a record,
    /// here, or in ``unaccounted``.
    public var lost: [Range<UInt64>]
    /// Sequence numbers the log may have handed out (they are below its
    /// persisted sequence lease) that no record holds and no failure recorded
    /// lost. After a crash, a kill or a power failure they were never
    /// acknowledged (the lease runs ahead of the appends, up to 65,536
    /// numbers); if the media lost acknowledged records and no process learnt
    /// of it, those are here too. They are never reused: ``nextSequence`` is past them.
    public var unaccounted: [Range<UInt64>]
    /// The failed device ranges the scan met.
    public var failedRanges: [DaxFailedRange]
    /// Sequence numbers whose records fail their checksum while a later append
    /// is intact: acknowledged records the media corrupted (a torn header is
    /// recognised when the next record starts within 1 MiB). They are in
    /// ``lost`` too; the records after them are returned.
    public var corrupted: [Range<UInt64>]
    /// Why the scan stopped.
    public var stop: StopReason

    /// A recovery from its parts: for tests of code that reads one (opening a log makes the real one).
    public init(firstSequence: UInt64, nextSequence: UInt64, recordCount: Int, lost: [Range<UInt64>],
                failedRanges: [DaxFailedRange], stop: StopReason, corrupted: [Range<UInt64>] = [],
                unaccounted: [Range<UInt64>] = []) {
        self.firstSequence = firstSequence
        self.nextSequence = nextSequence
        self.recordCount = recordCount
        self.lost = lost
        self.failedRanges = failedRanges
        self.stop = stop
        self.corrupted = corrupted
        self.unaccounted = unaccounted
    }

    /// How many sequence numbers were lost (`UInt64.max` if they do not fit:
    /// ranges built by hand can overlap; recovery's never reach 2^63).
    public var lostCount: UInt64 {
        // In UInt64: a range's `count` is an Int and traps past Int.max.
        lost.reduce(0 as UInt64) { sum, r in
            let (total, overflow) = sum.addingReportingOverflow(r.upperBound - r.lowerBound)
            return overflow ? .max : total
        }
    }

    public var description: String {
        "records \(firstSequence)..<\(nextSequence): \(recordCount) intact, \(lostCount) lost"
            + (unaccounted.isEmpty ? "" : ", unaccounted \(unaccounted.map { "\($0.lowerBound)..<\($0.upperBound)" }.joined(separator: ", "))")
            + (corrupted.isEmpty ? "" : " (corrupted: \(corrupted.map { "\($0.lowerBound)..<\($0.upperBound)" }.joined(separator: ", ")))")
            + "; stopped at \(stop)"
    }
}
