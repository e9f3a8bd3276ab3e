/// Disjoint, sorted ranges already accounted for: what the dispatcher has told
/// a mapping's holder, per kind, so each failed byte is told once.
struct RangeLedger: Sendable {
    private(set) var ranges: [Range<UInt64>] = []

    /// The parts of `range` not in the ledger.
    func missing(from range: Range<UInt64>) -> [Range<UInt64>] {
        guard !range.isEmpty else { return [] }
        var pieces: [Range<UInt64>] = []
        var cursor = range.lowerBound
        for r in ranges where r.upperBound > cursor {
            if r.lowerBound >= range.upperBound { break }
            if r.lowerBound > cursor { pieces.append(cursor..<r.lowerBound) }
            cursor = max(cursor, r.upperBound)
            if cursor >= range.upperBound { break }
        }
        if cursor < range.upperBound { pieces.append(cursor..<range.upperBound) }
        return pieces
    }

    /// Adds `range`, merging what it touches.
    mutating func add(_ range: Range<UInt64>) {
        guard !range.isEmpty else { return }
        var lo = range.lowerBound, hi = range.upperBound
        var kept: [Range<UInt64>] = []
        kept.reserveCapacity(ranges.count + 1)
        for r in ranges {
            if r.upperBound < lo || r.lowerBound > hi {
                kept.append(r)
            } else {
                lo = min(lo, r.lowerBound)
                hi = max(hi, r.upperBound)
            }
        }
        kept.append(lo..<hi)
        ranges = kept.sorted { $0.lowerBound < $1.lowerBound }
    }

    /// Merges touching or overlapping ranges of `pieces`.
    static func coalesced(_ pieces: [Range<UInt64>]) -> [Range<UInt64>] {
        var ledger = RangeLedger()
        for p in pieces { ledger.add(p) }
        return ledger.ranges
    }
}
