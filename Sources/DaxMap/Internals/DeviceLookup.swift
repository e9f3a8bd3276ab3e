import Glibc

/// What opening a device-dax node needs to know from discovery.
struct DaxDeviceFacts: Sendable {
    var size: UInt64
    var align: UInt64
    var targetNode: Int?
}

/// The bridge from opening a device to discovery (libdaxctl, libndctl).
enum DeviceLookup {
    /// The device-dax device with this major:minor, from libdaxctl.
    static func daxDevice(major: UInt32, minor: UInt32) -> DaxDeviceFacts? {
        nil
    }

    /// The persistence domain of the nd region above a device-dax device
    /// (`cpu_cache`, `memory_controller`, `none`, `unknown`).
    static func persistenceDomain(major: UInt32, minor: UInt32) -> String {
        "unknown"
    }

    /// Known badblocks of the namespace behind a device-dax device, in device offsets.
    static func badblocks(major: UInt32, minor: UInt32) -> [Range<UInt64>] {
        []
    }
}
