internal import CDaxMap
import Glibc

extension DaxDevice {
    /// The NVDIMM region under the device ("region0"), from libdaxctl and
    /// libndctl for device-dax, from the block device's sysfs path for a DAX
    /// file; nil for emulated devices and memory without one (CXL, hmem).
    var nvdimmRegionName: String? {
        switch kind {
        case .emulated:
            return nil
        case .deviceDax:
            let rdev = identity.rdev
            guard let info = DaxDiscovery.device(major: cdaxmap_dev_major(rdev), minor: cdaxmap_dev_minor(rdev)),
                  let buses = try? DaxDiscovery.nvdimmBuses() else { return nil }
            return DaxDiscovery.nvdimmRegion(forDaxDevice: info, in: buses)?.name
        case .fsdaxFile:
            let dev = identity.device
            guard let sysfs = Sysfs.devicePath(ofBlockDevice: cdaxmap_dev_major(dev), minor: cdaxmap_dev_minor(dev)) else {
                return nil
            }
            return sysfs.split(separator: "/").last { $0.hasPrefix("region") && $0.dropFirst(6).allSatisfy(\.isNumber) }
                .map(String.init)
        }
    }

    /// The physical address of device offset 0 of a device-dax device.
    var physicalStart: UInt64? {
        guard kind == .deviceDax else { return nil }
        let rdev = identity.rdev
        return DaxDiscovery.device(major: cdaxmap_dev_major(rdev), minor: cdaxmap_dev_minor(rdev))?.resource
    }
}
