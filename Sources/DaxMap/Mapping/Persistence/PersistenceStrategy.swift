internal import CDaxMap

/// How one mapping stores and makes stores persistent, chosen once when it is
/// mapped (like libpmem2's persist function chosen per map), so a store never
/// asks again which instruction, which threshold, which system call — or
/// whether a test simulates the device.
///
/// Three strategies: ``HardwarePersistence`` (flush each cache line and drain,
/// or drain only at byte granularity), ``MsyncPersistence`` (page granularity),
/// and the simulated persistence domain that DaxMapTesting installs through
/// ``SimulatedPersistenceDomain`` (`DaxPersistenceSimulator`). The mapping holds the
/// strategy (``MappingPersistence``: the hardware's inline, an installed one
/// behind this protocol) and calls it; the guarded access's checks (state,
/// range, marks) stay in the mapping.
package protocol PersistenceStrategy: Sendable {
    /// Copies and fills of at least this many bytes use non-temporal stores.
    var streamingThreshold: Int { get }
    /// Whether one copy may be split over several threads
    /// (``DaxMapping/write(_:at:persist:parallelism:)``); a simulation keeps its points in order.
    var storesInParallel: Bool { get }
    /// Copies `count` bytes from `source` to mapping offset `offset` (checked
    /// by the caller), then persists them unless `persist` is false.
    func write(_ mapping: DaxMapping, _ source: UnsafeRawPointer, at offset: Int, count: Int, persist: Bool) throws(DaxError)
    /// Fills `count` bytes at mapping offset `offset` (checked) with `value`; persists unless told not to.
    func fill(_ mapping: DaxMapping, _ value: UInt8, at offset: Int, count: Int, persist: Bool) throws(DaxError)
    /// Makes `count` bytes at mapping offset `offset` (checked) persistent;
    /// `streamed`: they were stored with non-temporal stores (a drain suffices).
    func persist(_ mapping: DaxMapping, at offset: Int, count: Int, streamed: Bool) throws(DaxError)
    /// What a guarded access throws once the mapping's persistence domain lost
    /// power (``DaxMapping/cutOff()``; only a simulated domain does). Cold path.
    func cutOffError(_ mapping: DaxMapping, _ operation: String, offset: UInt64) -> DaxError
}

/// The hardware's stores: a guarded copy, non-temporal from the threshold up,
/// then the strategy's persist. Each hardware strategy's `write` and `fill`
/// call these, inlined, so the one dynamic call of an access is the mapping's
/// call of its strategy (a default implementation would be generic code
/// asking its `Self` for the threshold and the persist again).
@inline(__always)
func hardwareWrite<S: PersistenceStrategy>(_ strategy: S, _ mapping: DaxMapping, _ source: UnsafeRawPointer, at offset: Int,
                                           count: Int, persist: Bool) throws(DaxError) {
    let nt = count >= strategy.streamingThreshold
    var fault = cdaxmap_fault()
    if cdaxmap_copy_guarded(mapping.base.pointer + offset, source, count, nt ? 1 : 0, &fault) != 0 {
        throw mapping.faultError("write", fault)
    }
    if persist { try strategy.persist(mapping, at: offset, count: count, streamed: nt) }
}

@inline(__always)
func hardwareFill<S: PersistenceStrategy>(_ strategy: S, _ mapping: DaxMapping, _ value: UInt8, at offset: Int, count: Int,
                                          persist: Bool) throws(DaxError) {
    let nt = count >= strategy.streamingThreshold
    var fault = cdaxmap_fault()
    if cdaxmap_fill_guarded(mapping.base.pointer + offset, CInt(value), count, nt ? 1 : 0, &fault) != 0 {
        throw mapping.faultError("fill", fault)
    }
    if persist { try strategy.persist(mapping, at: offset, count: count, streamed: nt) }
}

extension PersistenceStrategy {
    package var storesInParallel: Bool { true }

    package func cutOffError(_ mapping: DaxMapping, _ operation: String, offset: UInt64) -> DaxError {
        DaxError(.deviceRemoved, operation: operation, path: mapping.device.path, offset: offset,
                 message: "the mapping's persistence domain lost power")
    }
}

/// The streaming threshold of a mapping, from its granularity and the asked threshold.
enum StreamingThreshold {
    /// At page granularity non-temporal stores beat ordinary ones (which read
    /// each line for ownership first) only from about 8 KiB: below, the drain of
    /// the streaming stores costs more than `msync` saves (`make bench`).
    static let pageNonTemporalMinimum = 8 << 10

    static func of(_ granularity: StoreGranularity, asked: Int) -> Int {
        // The user's DAXMAP_MOVNT_THRESHOLD is taken as it is, at every granularity.
        granularity == .page && Persistence.thresholdOverride == nil ? max(asked, pageNonTemporalMinimum) : asked
    }
}
