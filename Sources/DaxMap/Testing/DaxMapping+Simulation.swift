internal import CDaxMap

extension DaxMapping {
    /// A guarded write or fill under a simulated persistence domain: one store
    /// point per unit the range touches, so the power can fail between the
    /// units of one write (a torn record, when eviction wrote the first ones).
    /// `copy(destination, bytesDone, count, &fault)` stores one part.
    func simulatedStore(
        _ simulator: DaxPersistenceSimulator, _ operation: String, _ offset: Int, _ count: Int, persist: Bool,
        _ copy: (UnsafeMutableRawPointer, Int, Int, inout cdaxmap_fault) -> CInt
    ) throws(DaxError) {
        let unit = simulator.unitSize
        var done = 0
        while done < count {
            let at = self.offset + UInt64(offset + done)
            let n = min(unit - Int(at % UInt64(unit)), count - done)
            var fault = cdaxmap_fault()
            var rc: CInt = 0
            try simulator.store(at: at, operation: operation) {
                rc = copy(base.pointer + offset + done, done, n, &fault)
                return rc == 0
            }
            if rc != 0 { throw faultError(operation, fault) }
            done += n
        }
        if persist { try simulator.persist(deviceRange(offset, count), operation: operation) }
    }

    /// Device offsets of `count` bytes at mapping offset `offset`.
    func deviceRange(_ offset: Int, _ count: Int) -> Range<UInt64> {
        (self.offset + UInt64(offset))..<(self.offset + UInt64(offset + count))
    }
}
