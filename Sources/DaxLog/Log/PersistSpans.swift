/// The mapping ranges one append (or header update) stored, merged where
/// contiguous, for its one persist. A batch wraps the data area at most once,
/// so two spans nearly always do: the common case allocates nothing.
struct PersistSpans {
    private var first: Range<Int>?
    private var second: Range<Int>?
    private var more: [Range<Int>] = []

    init() {}

    init(_ range: Range<Int>) { first = range }

    /// Adds `size` bytes at mapping offset `at`, extending the last span when it ends there.
    mutating func add(at: Int, size: Int) {
        let range = at..<(at + size)
        if let last = more.last {
            if last.upperBound == at { more[more.count - 1] = last.lowerBound..<range.upperBound } else { more.append(range) }
        } else if let s = second {
            if s.upperBound == at { second = s.lowerBound..<range.upperBound } else { more.append(range) }
        } else if let f = first {
            if f.upperBound == at { first = f.lowerBound..<range.upperBound } else { second = range }
        } else {
            first = range
        }
    }

    /// Calls `body` with each span in the order they were stored.
    func forEach<E: Error>(_ body: (Range<Int>) throws(E) -> Void) throws(E) {
        if let first { try body(first) }
        if let second { try body(second) }
        for r in more { try body(r) }
    }
}
