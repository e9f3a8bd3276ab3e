/// Making stores persistent, by the strategy chosen at map time (``PersistenceStrategy``).
extension DaxMapping {
    /// Makes `count` bytes at mapping offset `offset` persistent: flush each
    /// cache line and drain (cache-line granularity), drain only (byte), or
    /// `msync` the pages (page granularity).
    public func persist(at offset: Int = 0, count: Int? = nil) throws(DaxError) {
        let count = count ?? (self.count - offset)
        try check("persist", offset, count)
        try persistRange(offset, count, streamed: false)
    }

    /// Writes back everything stored through this mapping so far.
    public func persistAll() throws(DaxError) { try persist(at: 0, count: count) }

    /// Makes a checked range persistent by the mapping's strategy.
    func persistRange(_ offset: Int, _ count: Int, streamed: Bool) throws(DaxError) {
        try persistence.persist(self, at: offset, count: count, streamed: streamed)
    }
}
