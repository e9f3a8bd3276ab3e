internal import CDaxMap
internal import DaxMapSync

/// The one answer in Swift to "whose is this mapping": id → mapping, device,
/// holder, range. The C range table answers the same question for the signal
/// handler by address; this one holds what C cannot (the objects). Entries are
/// added by `map` and dropped when a mapping is closed, revoked or deinitialised.
/// Part of ``DaxRuntime``. Package access: the testing tools look mappings up.
package final class MappingRegistry: Sendable {
    struct Entry {
        weak var mapping: DaxMapping?
        /// The device's ``DeviceHandle``: what the dispatcher asks with.
        let device: ObjectIdentifier
        let holder: (any DaxHolder)?
        let range: Range<UInt64>
        let slot: Int
    }

    private struct WeakMapping { weak var mapping: DaxMapping? }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var byDevice: [ObjectIdentifier: Set<UInt64>] = [:]
        /// Closed mappings that still hold a range-table slot, oldest first.
        var closed: [WeakMapping] = []
    }

    private let state = Locked(State())

    /// A process-unique mapping id (never 0: 0 means "no mapping" to the handler),
    /// which is also the epoch the mapping begins (``DaxFailure/epoch``).
    func nextID() -> UInt64 { cdaxmap_epoch_advance() }

    func add(_ mapping: DaxMapping) {
        let device = ObjectIdentifier(mapping.device.handle)
        let entry = Entry(mapping: mapping, device: device, holder: mapping.holder, range: mapping.deviceRange,
                          slot: mapping.slot)
        state.withLock { s in
            s.entries[mapping.id] = entry
            s.byDevice[device, default: []].insert(mapping.id)
        }
    }

    /// A closed mapping keeps its slot, so a raw access racing the close (a
    /// holder's writer thread) is still absorbed; the slot is reclaimed only
    /// when the table is full.
    func closed(_ mapping: DaxMapping) {
        remove(mapping.id)
        state.withLock { s in
            // Entries of deinitialised mappings are dropped now and then, not one by one.
            if s.closed.count >= 1024 && s.closed.count.nonzeroBitCount == 1 { s.closed.removeAll { $0.mapping == nil } }
            s.closed.append(WeakMapping(mapping: mapping))
        }
    }

    /// Gives back the slots of up to `count` of the oldest closed mappings
    /// still referenced; returns how many. Called when registration found the table full.
    func reclaimClosedSlots(_ count: Int) -> Int {
        let victims = state.withLock { s -> [DaxMapping] in
            s.closed.removeAll { $0.mapping == nil }
            let n = min(count, s.closed.count)
            defer { s.closed.removeFirst(n) }
            return s.closed.prefix(n).compactMap(\.mapping)
        }
        for mapping in victims { mapping.releaseSlot() }
        return victims.count
    }

    func remove(_ id: UInt64) {
        state.withLock { s in
            guard let entry = s.entries.removeValue(forKey: id) else { return }
            s.byDevice[entry.device]?.remove(id)
            if s.byDevice[entry.device]?.isEmpty == true { s.byDevice.removeValue(forKey: entry.device) }
        }
    }

    /// The live mapping a drained record names.
    package func mapping(_ id: UInt64) -> DaxMapping? {
        state.withLock { $0.entries[id]?.mapping }
    }

    /// Mappings the handler has attributed a fault to since they were
    /// registered (its per-slot count goes on when the ring is full): after a
    /// drop, the ones whose failures must be re-derived from the handler's marks.
    func mappingsThatFaulted() -> [DaxMapping] {
        state.withLock { s in
            s.entries.values.filter { cdaxmap_range_faults($0.slot) > 0 }.compactMap(\.mapping)
        }
    }

    /// Every registered mapping of every device.
    package func allMappings() -> [DaxMapping] {
        state.withLock { s in s.entries.values.compactMap(\.mapping) }
    }

    /// The device's registered mappings (open or revoked-but-referenced).
    func mappings(of device: DeviceHandle) -> [DaxMapping] {
        state.withLock { s in
            (s.byDevice[ObjectIdentifier(device)] ?? []).compactMap { s.entries[$0]?.mapping }
        }
    }

    /// The device's mappings, grouped by holder; mappings without one in `unheld`.
    /// - Parameter range: only mappings that intersect it (nil: all).
    func holders(of device: DeviceHandle, intersecting range: Range<UInt64>? = nil)
        -> (held: [(holder: any DaxHolder, mappings: [DaxMapping])], unheld: [DaxMapping])
    {
        state.withLock { s in
            var held: [ObjectIdentifier: (holder: any DaxHolder, mappings: [DaxMapping])] = [:]
            var order: [ObjectIdentifier] = []
            var unheld: [DaxMapping] = []
            for id in (s.byDevice[ObjectIdentifier(device)] ?? []).sorted() {
                guard let entry = s.entries[id], let mapping = entry.mapping else { continue }
                if let range, !entry.range.overlaps(range) { continue }
                guard let holder = entry.holder else {
                    unheld.append(mapping)
                    continue
                }
                let key = ObjectIdentifier(holder)
                if held[key] == nil {
                    held[key] = (holder, [])
                    order.append(key)
                }
                held[key]!.mappings.append(mapping)
            }
            return (order.map { held[$0]! }, unheld)
        }
    }
}
