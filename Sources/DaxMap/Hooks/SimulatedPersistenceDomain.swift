/// A persistence domain other than the hardware's, for an emulated device:
/// DaxMapTesting's `DaxPersistenceSimulator` is the one there is. The library
/// never makes one; it only asks, once per open and once per mapping, whether
/// the device has one, so the release paths have no simulation in them.
package protocol SimulatedPersistenceDomain: AnyObject, Sendable {
    /// What the device's mappings map instead of the device's file (the simulated cache).
    var cacheDescriptor: CInt { get }
    /// The device this domain belongs to (called once, by its init).
    func attach(to device: DaxDevice)
    /// The domain lost power: a new mapping starts cut off (``DaxMapping/cutOff()``).
    var isCutOff: Bool { get }
    /// The strategy of a new mapping of the device: chosen once, at map time.
    func strategy(granularity: StoreGranularity, nonTemporalThreshold: Int) -> any PersistenceStrategy
}

/// How to make a ``SimulatedPersistenceDomain`` when an emulated device is opened:
/// what `DaxDevice.OpenOptions.simulation` (DaxMapTesting) sets. Compared and
/// hashed by its configuration, so options stay `Hashable`.
package struct SimulatedPersistenceRequest: Hashable, @unchecked Sendable {
    /// The configuration asked for (a `DaxPersistenceSimulation`, which is
    /// Sendable: hence the unchecked conformance of the AnyHashable box).
    package let configuration: AnyHashable
    /// The granularity the domain gives the device.
    package let granularity: StoreGranularity
    /// Makes the domain of the file open as `file`, of `size` bytes.
    package let make: @Sendable (_ path: String, _ file: CInt, _ size: UInt64) throws(DaxError) -> any SimulatedPersistenceDomain

    package init(configuration: AnyHashable, granularity: StoreGranularity,
                 make: @escaping @Sendable (_ path: String, _ file: CInt, _ size: UInt64) throws(DaxError) -> any SimulatedPersistenceDomain) {
        self.configuration = configuration
        self.granularity = granularity
        self.make = make
    }

    package static func == (a: Self, b: Self) -> Bool { a.configuration == b.configuration }
    package func hash(into hasher: inout Hasher) { hasher.combine(configuration) }
}
