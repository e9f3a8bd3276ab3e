internal import CDaxMap
import DaxMap

/// The strategy of a mapping of a device opened with a simulation: every
/// guarded store and persist passes the simulator's points. Installed once per
/// mapping through `DaxMap/SimulatedPersistenceDomain`, so the hardware's strategies
/// carry nothing of it.
struct SimulatedPersistence: PersistenceStrategy {
    let simulator: DaxPersistenceSimulator
    /// What the hardware's would be (`DaxMapping/nonTemporalThreshold`); the
    /// simulation itself stores with ordinary copies.
    let streamingThreshold: Int

    /// Points stay in order: one thread stores a copy.
    var storesInParallel: Bool { false }

    func write(_ mapping: DaxMapping, _ source: UnsafeRawPointer, at offset: Int, count: Int, persist: Bool) throws(DaxError) {
        try store(mapping, "write", offset, count, persist: persist) { dst, done, n, fault in
            cdaxmap_copy_guarded(dst, source + done, n, 0, &fault)
        }
    }

    func fill(_ mapping: DaxMapping, _ value: UInt8, at offset: Int, count: Int, persist: Bool) throws(DaxError) {
        try store(mapping, "fill", offset, count, persist: persist) { dst, _, n, fault in
            cdaxmap_fill_guarded(dst, CInt(value), n, 0, &fault)
        }
    }

    func persist(_ mapping: DaxMapping, at offset: Int, count: Int, streamed: Bool) throws(DaxError) {
        try simulator.persist(mapping.deviceRange(offset, count), operation: "persist")
    }

    func cutOffError(_ mapping: DaxMapping, _ operation: String, offset: UInt64) -> DaxError {
        simulator.poweredOffError(operation, offset: offset)
    }

    /// A guarded write or fill under a simulated persistence domain: one store
    /// point per unit the range touches, so the power can fail between the
    /// units of one write (a torn record, when eviction wrote the first ones).
    /// `copy(destination, bytesDone, count, &fault)` stores one part.
    private func store(
        _ mapping: DaxMapping, _ operation: String, _ offset: Int, _ count: Int, persist: Bool,
        _ copy: (UnsafeMutableRawPointer, Int, Int, inout cdaxmap_fault) -> CInt
    ) throws(DaxError) {
        let unit = simulator.unitSize
        var done = 0
        while done < count {
            let at = mapping.offset + UInt64(offset + done)
            let n = min(unit - Int(at % UInt64(unit)), count - done)
            var fault = cdaxmap_fault()
            var rc: CInt = 0
            try simulator.store(at: at, operation: operation) {
                rc = copy(mapping.base.pointer + offset + done, done, n, &fault)
                return rc == 0
            }
            if rc != 0 { throw mapping.guardedFaultError(operation, fault) }
            done += n
        }
        if persist { try simulator.persist(mapping.deviceRange(offset, count), operation: operation) }
    }
}
