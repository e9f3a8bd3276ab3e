internal import CDaxctl
import Glibc
import SystemPackage

// The only file that calls libdaxctl. Every string is copied out of the
// library-owned C strings while the context is alive, and the context is
// unreferenced before anything is returned: nothing returned points into it.

enum Daxctl {
    /// Every DAX region with its devices, idle seeds included.
    ///
    /// An absent or empty `/sys/bus/dax` gives an empty array: libdaxctl just
    /// finds nothing to enumerate.
    static func regions() -> Result<[DaxRegion], DaxError> {
        withContext { ctx in
            var regions: [DaxRegion] = []
            var region = daxctl_region_get_first(ctx)
            while let r = region {
                regions.append(snapshot(region: r))
                region = daxctl_region_get_next(r)
            }
            return regions
        }
    }

    /// Runs `body` with a fresh libdaxctl context, then drops it.
    static func withContext<T>(_ body: (OpaquePointer) -> T) -> Result<T, DaxError> {
        var ctx: OpaquePointer?
        let rc = daxctl_new(&ctx)
        guard rc == 0, let ctx else {
            return .failure(DaxError(
                .system, operation: "daxctl_new", errno: Errno(rawValue: rc < 0 ? -rc : (rc == 0 ? ENOMEM : rc)),
                message: "cannot create a libdaxctl context"))
        }
        defer { daxctl_unref(ctx) }
        // libdaxctl logs errors to stderr by default; a library must not. The
        // user can still turn logging on with DAXCTL_LOG=debug.
        if Syscalls.environment("DAXCTL_LOG") == nil { daxctl_set_log_priority(ctx, 0) }
        return .success(body(ctx))
    }

    private static func snapshot(region r: OpaquePointer) -> DaxRegion {
        let id = Int(daxctl_region_get_id(r))
        var devices: [DaxDeviceInfo] = []
        var dev = daxctl_dev_get_first(r)
        while let d = dev {
            if let info = snapshot(device: d, regionID: id) { devices.append(info) }
            dev = daxctl_dev_get_next(d)
        }
        let size = daxctl_region_get_size(r)
        let align = daxctl_region_get_align(r)
        return DaxRegion(
            id: id,
            path: string(daxctl_region_get_path(r)) ?? "",
            size: size == UInt64.max ? nil : size,
            align: align == UInt.max ? nil : UInt64(align),
            devices: devices)
    }

    private static func snapshot(device d: OpaquePointer, regionID: Int) -> DaxDeviceInfo? {
        guard let name = string(daxctl_dev_get_devname(d)) else { return nil }
        let align = daxctl_dev_get_align(d)
        let resource = daxctl_dev_get_resource(d)
        let node = daxctl_dev_get_target_node(d)
        // No public mode getter: `daxctl list` calls a device "system-ram"
        // exactly when it has a memory object, and so do we.
        let memory = daxctl_dev_get_memory(d)
        let mode: DaxDeviceMode = memory != nil ? .systemRAM : .devdax
        return DaxDeviceInfo(
            name: name,
            regionID: regionID,
            major: UInt32(truncatingIfNeeded: daxctl_dev_get_major(d)),
            minor: UInt32(truncatingIfNeeded: daxctl_dev_get_minor(d)),
            size: daxctl_dev_get_size(d),
            align: align == 0 || align == UInt.max ? nil : UInt64(align),
            resource: resource == 0 || resource == UInt64.max ? nil : resource,
            targetNode: node < 0 ? nil : Int(node),
            isEnabled: daxctl_dev_is_enabled(d) != 0,
            mode: mode,
            systemRAM: memory.flatMap { systemRAM($0, resourceKnown: resource != 0 && resource != UInt64.max) })
    }

    /// The memory blocks of a system-ram device, as `daxctl list` prints them: only
    /// when the device's address is known (libdaxctl counts blocks from it).
    private static func systemRAM(_ m: OpaquePointer, resourceKnown: Bool) -> DaxSystemRAM? {
        guard resourceKnown else { return nil }
        let total = daxctl_memory_num_sections(m), online = daxctl_memory_is_online(m)
        guard total >= 0, online >= 0 else { return nil }
        let movable = daxctl_memory_is_movable(m)
        let block = daxctl_memory_get_block_size(m)
        return DaxSystemRAM(
            onlineBlocks: Int(online), totalBlocks: Int(total),
            movable: movable == 0 || movable == 1 ? movable == 1 : nil,
            blockSize: block == 0 || block == UInt.max ? nil : UInt64(block))
    }

    /// Disables the device-dax device `name` (`dax0.0`), as `daxctl disable-device` does.
    static func disable(device name: String) -> Result<Void, DaxError> {
        let outcome = withContext { ctx -> Result<Void, DaxError> in
            var region = daxctl_region_get_first(ctx)
            while let r = region {
                var dev = daxctl_dev_get_first(r)
                while let d = dev {
                    if string(daxctl_dev_get_devname(d)) == name {
                        let rc = daxctl_dev_disable(d)
                        guard rc == 0 else {
                            return .failure(DaxError(.system, operation: "daxctl_dev_disable", path: name,
                                                     errno: Errno(rawValue: rc < 0 ? -rc : rc),
                                                     message: "libdaxctl could not disable the device"))
                        }
                        return .success(())
                    }
                    dev = daxctl_dev_get_next(d)
                }
                region = daxctl_region_get_next(r)
            }
            return .failure(DaxError(.notFound, operation: "daxctl_dev_disable", path: name,
                                     message: "libdaxctl does not list this device"))
        }
        return outcome.flatMap { $0 }
    }

    /// The name of the first device of a libdaxctl region that libndctl handed
    /// out (`ndctl_dax_get_daxctl_region`), e.g. `dax0.0`; what `ndctl list`
    /// prints as a devdax namespace's `chardev`. Only valid while the owning
    /// ndctl context lives.
    static func firstDeviceName(ofRegion region: OpaquePointer) -> String? {
        guard let dev = daxctl_dev_get_first(region) else { return nil }
        return string(daxctl_dev_get_devname(dev))
    }

    private static func string(_ p: UnsafePointer<CChar>?) -> String? {
        guard let p else { return nil }
        return String(cString: p)
    }
}
