/// The units (cache lines or pages, by index) that guarded stores dirtied and
/// nothing has written to the media yet: what eviction chooses from and what a
/// power failure loses. Insertion, removal and a random pick in O(1); the
/// order depends only on the calls made, so a seeded pick replays.
struct DirtyUnits: Sendable {
    private var units: [Int] = []
    private var index: [Int: Int] = [:]

    var count: Int { units.count }
    var isEmpty: Bool { units.isEmpty }

    mutating func insert(_ unit: Int) {
        guard index[unit] == nil else { return }
        index[unit] = units.count
        units.append(unit)
    }

    mutating func remove(_ unit: Int) {
        guard let i = index.removeValue(forKey: unit) else { return }
        let last = units.removeLast()
        if i < units.count {
            units[i] = last
            index[last] = i
        }
    }

    mutating func removeAll() {
        units.removeAll()
        index.removeAll()
    }

    /// One of the units, chosen by `random`.
    func pick(_ random: inout SeededRandom) -> Int? {
        units.isEmpty ? nil : units[Int(random.next() % UInt64(units.count))]
    }
}
