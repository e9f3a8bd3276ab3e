/// Disjoint, sorted injected failures: a later injection over a range replaces
/// what was there, and touching ranges of one kind merge.
struct InjectedRanges: Sendable, Hashable {
    private(set) var failures: [DaxInjectedFailure] = []

    init(_ failures: [DaxInjectedFailure] = []) {
        for f in failures { set(f.kind, f.range) }
    }

    /// Marks `range` as `kind`, or clears it (nil). Returns what it replaced.
    @discardableResult
    mutating func set(_ kind: DaxInjectedFailure.Kind?, _ range: Range<UInt64>) -> [DaxInjectedFailure] {
        guard !range.isEmpty else { return [] }
        var kept: [DaxInjectedFailure] = []
        var replaced: [DaxInjectedFailure] = []
        for f in failures {
            guard f.range.overlaps(range) else {
                kept.append(f)
                continue
            }
            replaced.append(DaxInjectedFailure(range: f.range.clamped(to: range), kind: f.kind))
            if f.range.lowerBound < range.lowerBound {
                kept.append(DaxInjectedFailure(range: f.range.lowerBound..<range.lowerBound, kind: f.kind))
            }
            if f.range.upperBound > range.upperBound {
                kept.append(DaxInjectedFailure(range: range.upperBound..<f.range.upperBound, kind: f.kind))
            }
        }
        if let kind { kept.append(DaxInjectedFailure(range: range, kind: kind)) }
        kept.sort { $0.range.lowerBound < $1.range.lowerBound }
        var merged: [DaxInjectedFailure] = []
        for f in kept {
            if let last = merged.last, last.kind == f.kind, last.range.upperBound == f.range.lowerBound {
                merged[merged.count - 1].range = last.range.lowerBound..<f.range.upperBound
            } else {
                merged.append(f)
            }
        }
        failures = merged
        return replaced
    }

    /// The failures that intersect `range`, clamped to it.
    func clamped(to range: Range<UInt64>) -> [DaxInjectedFailure] {
        failures.filter { $0.range.overlaps(range) }
            .map { DaxInjectedFailure(range: $0.range.clamped(to: range), kind: $0.kind) }
    }
}
