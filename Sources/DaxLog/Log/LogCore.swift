import DaxMap

/// The mutable state of a ``DaxLog``, behind its lock.
struct LogCore {
    struct Entry {
        var sequence: UInt64
        /// Logical position (grows forever; the place is `position % capacity`).
        var position: UInt64
        var size: Int
    }

    var device: DaxDevice
    var mapping: DaxMapping?
    /// The id of the mapping the entries were found or written through: the
    /// epoch of this attachment. A failure of an earlier epoch belongs to an
    /// earlier attachment (its data is rescanned since) and is never applied.
    var attachment: UInt64 = 0
    var state: DaxLog.State = .closed
    var header = LogHeader(generation: 0, epoch: 0, capacity: 0, headSequence: 0, headPosition: 0)
    /// Logical position of the next record.
    var tail: UInt64 = 0
    /// The next sequence number.
    var next: UInt64 = 0
    /// Logical position up to which records are persistent (`tail` once
    /// the group in flight is persistent; see ``DaxLog/appendRecords(_:)``).
    var durableTail: UInt64 = 0
    /// The sequence number after the last persistent record: readers see records below it only.
    var durableNext: UInt64 = 0
    /// Live data records, ascending.
    var entries: [Entry] = []
    /// Lost sequence numbers, coalesced, ascending.
    var lost: [Range<UInt64>] = []
    var failures: [DaxFailure] = []
    /// The epoch of the newest loss record on the media (0: none).
    var lossEpoch: UInt64 = 0
    var recovery = DaxLogRecovery(firstSequence: 0, nextSequence: 0, recordCount: 0, lost: [], failedRanges: [], stop: .cleanEnd)
    /// The append path's scratch memory (used under the lock).
    let scratch = ScratchBuffer()
    var injector: (@Sendable (StorePoint) -> StoreAction)?
    /// The region's ownership while the log may write it (none read-only, sealed or closed).
    var claim: DaxRegionClaim?

    init(device: DaxDevice) { self.device = device }

    /// Adds `range` to the lost numbers, keeping them coalesced.
    mutating func addLost(_ range: Range<UInt64>) { lost = Self.adding(range, to: lost) }

    /// `lost` (coalesced, ascending) with `range` added, coalesced.
    static func adding(_ range: Range<UInt64>, to lost: [Range<UInt64>]) -> [Range<UInt64>] {
        guard !range.isEmpty else { return lost }
        var merged = range
        var kept: [Range<UInt64>] = []
        for r in lost {
            if r.upperBound < merged.lowerBound || r.lowerBound > merged.upperBound { kept.append(r) } else {
                merged = min(r.lowerBound, merged.lowerBound)..<max(r.upperBound, merged.upperBound)
            }
        }
        kept.append(merged)
        return kept.sorted { $0.lowerBound < $1.lowerBound }
    }

    func isLost(_ sequence: UInt64) -> Bool { lost.contains { $0.contains(sequence) } }

    /// Whether `failure` was observed during this attachment (the one check a failure passes before it is applied).
    func concerns(_ failure: DaxFailure) -> Bool { failure.epoch >= attachment }
}
