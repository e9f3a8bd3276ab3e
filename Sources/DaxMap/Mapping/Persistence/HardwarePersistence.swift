internal import CDaxMap

/// Persistence by the CPU: flush each cache line and drain (cache-line
/// granularity: device-dax, a DAX file mapped `MAP_SYNC`), or drain only (byte
/// granularity: the caches are in the persistence domain, and after
/// non-temporal stores).
struct HardwarePersistence: PersistenceStrategy {
    /// The flush instruction (CDAXMAP_FLUSH_*); none at byte granularity.
    let flushKind: CInt
    let streamingThreshold: Int

    init(granularity: StoreGranularity, streamingThreshold: Int) {
        flushKind = granularity == .cacheLine ? Persistence.flushKind : CInt(CDAXMAP_FLUSH_NONE.rawValue)
        self.streamingThreshold = streamingThreshold
    }

    func write(_ mapping: DaxMapping, _ source: UnsafeRawPointer, at offset: Int, count: Int, persist: Bool) throws(DaxError) {
        try hardwareWrite(self, mapping, source, at: offset, count: count, persist: persist)
    }

    func fill(_ mapping: DaxMapping, _ value: UInt8, at offset: Int, count: Int, persist: Bool) throws(DaxError) {
        try hardwareFill(self, mapping, value, at: offset, count: count, persist: persist)
    }

    func persist(_ mapping: DaxMapping, at offset: Int, count: Int, streamed: Bool) throws(DaxError) {
        guard !streamed, flushKind != CInt(CDAXMAP_FLUSH_NONE.rawValue) else {
            cdaxmap_sfence() // non-temporal stores, and byte granularity, need only the drain
            return
        }
        var fault = cdaxmap_fault()
        if cdaxmap_flush_guarded(flushKind, mapping.base.pointer + offset, count, &fault) != 0 {
            throw mapping.faultError("persist", fault)
        }
    }
}
