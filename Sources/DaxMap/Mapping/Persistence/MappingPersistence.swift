/// The strategy a mapping holds, chosen once at map time. The hardware's two
/// (`hardware`: flush and drain; `pages`: `msync`)
/// are held as they are, so a store calls them directly (inlined, no dynamic
/// call: one switch on the case, as the granularity switch the persist made
/// before); any other — the simulated domain DaxMapTesting installs — is
/// called through ``PersistenceStrategy``. Bitwise copyable on purpose: an
/// installed strategy is an unretained reference (the mapping keeps it alive,
/// ``DaxMapping/installedStrategy``), so reading the strategy on a store copies
/// a few words and retains nothing (`make bench`'s unused-hooks rows).
enum MappingPersistence: @unchecked Sendable {
    case hardware(HardwarePersistence)
    case pages(MsyncPersistence)
    case installed(Unmanaged<InstalledStrategy>)

    /// The strategy a mapping of `granularity` gets on the hardware (no simulation).
    static func native(_ granularity: StoreGranularity, nonTemporalThreshold: Int) -> MappingPersistence {
        let threshold = StreamingThreshold.of(granularity, asked: nonTemporalThreshold)
        return granularity == .page ? .pages(MsyncPersistence(streamingThreshold: threshold))
            : .hardware(HardwarePersistence(granularity: granularity, streamingThreshold: threshold))
    }

    var streamingThreshold: Int {
        switch self {
        case .hardware(let s): s.streamingThreshold
        case .pages(let s): s.streamingThreshold
        case .installed(let s): s.takeUnretainedValue().strategy.streamingThreshold
        }
    }

    var storesInParallel: Bool {
        if case .installed(let s) = self { return s.takeUnretainedValue().strategy.storesInParallel }
        return true
    }

    @inline(__always)
    func write(_ mapping: DaxMapping, _ source: UnsafeRawPointer, at offset: Int, count: Int, persist: Bool) throws(DaxError) {
        switch self {
        case .hardware(let s): try s.write(mapping, source, at: offset, count: count, persist: persist)
        case .pages(let s): try s.write(mapping, source, at: offset, count: count, persist: persist)
        case .installed(let s): try s.takeUnretainedValue().strategy.write(mapping, source, at: offset, count: count, persist: persist)
        }
    }

    @inline(__always)
    func fill(_ mapping: DaxMapping, _ value: UInt8, at offset: Int, count: Int, persist: Bool) throws(DaxError) {
        switch self {
        case .hardware(let s): try s.fill(mapping, value, at: offset, count: count, persist: persist)
        case .pages(let s): try s.fill(mapping, value, at: offset, count: count, persist: persist)
        case .installed(let s): try s.takeUnretainedValue().strategy.fill(mapping, value, at: offset, count: count, persist: persist)
        }
    }

    @inline(__always)
    func persist(_ mapping: DaxMapping, at offset: Int, count: Int, streamed: Bool) throws(DaxError) {
        switch self {
        case .hardware(let s): try s.persist(mapping, at: offset, count: count, streamed: streamed)
        case .pages(let s): try s.persist(mapping, at: offset, count: count, streamed: streamed)
        case .installed(let s): try s.takeUnretainedValue().strategy.persist(mapping, at: offset, count: count, streamed: streamed)
        }
    }

    func cutOffError(_ mapping: DaxMapping, _ operation: String, offset: UInt64) -> DaxError {
        switch self {
        case .hardware(let s): s.cutOffError(mapping, operation, offset: offset)
        case .pages(let s): s.cutOffError(mapping, operation, offset: offset)
        case .installed(let s): s.takeUnretainedValue().strategy.cutOffError(mapping, operation, offset: offset)
        }
    }
}

/// An installed strategy, in a box the mapping owns.
final class InstalledStrategy: Sendable {
    let strategy: any PersistenceStrategy
    init(_ strategy: any PersistenceStrategy) { self.strategy = strategy }
}
