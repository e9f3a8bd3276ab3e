internal import CDaxMap
import Glibc

/// Finds the DAX and NVDIMM devices of this machine, the way `daxctl list` and
/// `ndctl list` do (through libdaxctl and libndctl).
///
/// Each call takes a fresh snapshot: it opens a library context, copies what it
/// needs into value types, and releases the context before returning. Nothing is
/// cached, so repeated calls see devices come and go; ids and names are not
/// stable from boot to boot. Safe to call from any thread; each call blocks on
/// sysfs reads for a few milliseconds.
///
/// A machine without such devices (no `/sys/bus/dax`, no `/sys/bus/nd`) gives
/// empty arrays, not errors.
public enum DaxDiscovery {
    /// Every DAX region and its device-dax instances, seeds (size 0) and
    /// disabled instances included.
    ///
    /// - Throws: ``DaxError`` with code `.system` when libdaxctl cannot create a
    ///   context (out of memory).
    ///
    /// The corresponding C functions are `daxctl_new` and `daxctl_region_get_first`.
    public static func daxRegions() throws(DaxError) -> [DaxRegion] {
        try Daxctl.regions().get()
    }

    /// Every device-dax instance of every region.
    ///
    /// - Throws: as ``daxRegions()``.
    public static func daxDevices() throws(DaxError) -> [DaxDeviceInfo] {
        try daxRegions().flatMap(\.devices)
    }

    /// Every NVDIMM bus with its DIMMs, regions and namespaces, idle ones included.
    ///
    /// - Throws: ``DaxError`` with code `.system` when libndctl cannot create a
    ///   context (out of memory, or kmod unusable).
    ///
    /// The corresponding C functions are `ndctl_new` and `ndctl_bus_get_first`.
    public static func nvdimmBuses() throws(DaxError) -> [NvdimmBus] {
        try Ndctl.buses().get()
    }

    /// The device-dax instance a `/dev/daxX.Y` node names (by its device number), in
    /// whatever mode it is: what to report about a device that cannot be opened, such
    /// as one in system-ram mode. nil when `path` is no character device libdaxctl lists.
    public static func daxDevice(atPath path: String) -> DaxDeviceInfo? {
        guard case .success(let st) = Syscalls.status(ofPath: path), st.st_mode & S_IFMT == S_IFCHR else { return nil }
        let rdev = UInt64(st.st_rdev)
        return device(major: cdaxmap_dev_major(rdev), minor: cdaxmap_dev_minor(rdev))
    }

    // MARK: Lookups for opening a device

    /// The device-dax instance with this device number (`st_rdev` of
    /// `/dev/daxX.Y`), nil when there is none or discovery failed.
    static func device(major: UInt32, minor: UInt32) -> DaxDeviceInfo? {
        guard let regions = try? daxRegions() else { return nil }
        return device(major: major, minor: minor, in: regions)
    }

    static func device(major: UInt32, minor: UInt32, in regions: [DaxRegion]) -> DaxDeviceInfo? {
        for region in regions {
            if let d = region.devices.first(where: { $0.major == major && $0.minor == minor }) { return d }
        }
        return nil
    }

    /// The persistence domain of the NVDIMM region under a DAX device;
    /// `.unknown` when no NVDIMM region sits under it (CXL, hmem) or discovery failed.
    static func persistenceDomain(forDaxDevice device: DaxDeviceInfo) -> PersistenceDomain {
        guard let buses = try? nvdimmBuses() else { return .unknown }
        return persistenceDomain(forDaxDevice: device, in: buses)
    }

    static func persistenceDomain(forDaxDevice device: DaxDeviceInfo, in buses: [NvdimmBus]) -> PersistenceDomain {
        nvdimmRegion(forDaxDevice: device, in: buses)?.persistenceDomain ?? .unknown
    }

    /// The known badblocks of a DAX device as offsets into the device; nil when
    /// they cannot be derived (no NVDIMM region under it, or its addresses are
    /// unreadable without root).
    static func badblocks(forDaxDevice device: DaxDeviceInfo) -> [Badblock]? {
        guard let buses = try? nvdimmBuses() else { return nil }
        return badblocks(forDaxDevice: device, in: buses)
    }

    static func badblocks(forDaxDevice device: DaxDeviceInfo, in buses: [NvdimmBus]) -> [Badblock]? {
        guard let region = nvdimmRegion(forDaxDevice: device, in: buses) else { return nil }
        if let start = device.resource, let origin = region.resource {
            return Badblock.rebase(region.badblocks, from: origin, onto: start..<(start &+ device.size))
        }
        // Without addresses: a devdax namespace's badblocks count from the
        // start of its first instance, which is this device when it names it.
        if let ns = region.namespaces.first(where: { $0.charDevice == device.name }) {
            return ns.badblocks
        }
        return nil
    }

    /// The NVDIMM region under a DAX device: the one whose physical range holds
    /// the device's start, else the one with a namespace naming the device.
    static func nvdimmRegion(forDaxDevice device: DaxDeviceInfo, in buses: [NvdimmBus]) -> NvdimmRegion? {
        let regions = buses.flatMap(\.regions)
        if let address = device.resource {
            for region in regions {
                if let start = region.resource, let size = region.size, address >= start, address - start < size {
                    return region
                }
            }
        }
        return regions.first { $0.namespaces.contains { $0.charDevice == device.name } }
    }
}
