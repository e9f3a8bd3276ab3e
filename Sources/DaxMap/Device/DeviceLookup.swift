/// The bridge from opening a device-dax node to discovery (libdaxctl, libndctl):
/// one walk of each library per open.
struct DeviceLookup {
    /// The device-dax device with the node's major:minor, from libdaxctl.
    let device: DaxDeviceInfo?
    /// The persistence domain of the nd region under it (`.unknown` without one).
    let persistenceDomain: PersistenceDomain
    /// Known badblocks of the namespace behind it, in device offsets.
    let badblocks: [Range<UInt64>]

    init(major: UInt32, minor: UInt32) {
        let regions = (try? DaxDiscovery.daxRegions()) ?? []
        device = DaxDiscovery.device(major: major, minor: minor, in: regions)
        guard let device else {
            persistenceDomain = .unknown
            badblocks = []
            return
        }
        let buses = (try? DaxDiscovery.nvdimmBuses()) ?? []
        persistenceDomain = DaxDiscovery.persistenceDomain(forDaxDevice: device, in: buses)
        badblocks = (DaxDiscovery.badblocks(forDaxDevice: device, in: buses) ?? []).map(\.byteRange)
    }
}
