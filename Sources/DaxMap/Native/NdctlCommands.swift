internal import CNdctl
import Glibc
import SystemPackage

/// libndctl commands on the NVDIMM region under a device: clear-error, deep
/// flush, the DIMMs' unsafe-shutdown counts. As in Ndctl.swift, the context
/// lives only for the call.
enum NdctlCommands {
    /// Runs `body` with the bus and region named `region` (e.g. "region0"); nil
    /// when libndctl has no context or no such region.
    private static func withRegion<T>(_ name: String, _ body: (OpaquePointer, OpaquePointer) -> T) -> T? {
        var ctx: OpaquePointer?
        guard ndctl_new(&ctx) == 0, let ctx else { return nil }
        defer { _ = ndctl_unref(ctx) }
        if Syscalls.environment("NDCTL_LOG") == nil { ndctl_set_log_priority(ctx, 0) }
        var bus = ndctl_bus_get_first(ctx)
        while let b = bus {
            var region = ndctl_region_get_first(b)
            while let r = region {
                if let n = ndctl_region_get_devname(r), String(cString: n) == name { return body(b, r) }
                region = ndctl_region_get_next(r)
            }
            bus = ndctl_bus_get_next(b)
        }
        return nil
    }

    /// Clears poison in the physical range through the bus's ARS capability
    /// and clear-error commands. Returns bytes cleared.
    static func clearErrors(region: String, address: UInt64, length: UInt64, path: String) -> Result<UInt64, DaxError> {
        let result = withRegion(region) { bus, _ -> Result<UInt64, DaxError> in
            let provider = ndctl_bus_get_provider(bus).map { String(cString: $0) } ?? "unknown"
            guard ndctl_bus_is_cmd_supported(bus, 1 /* ND_CMD_ARS_CAP */) != 0,
                  ndctl_bus_is_cmd_supported(bus, 4 /* ND_CMD_CLEAR_ERROR */) != 0 else {
                return .failure(DaxError(.unsupported, operation: "clear", path: path, offset: address, length: length,
                                         message: "the NVDIMM bus '\(provider)' of \(region) has no ARS clear-error command (qemu's emulated NVDIMM and memmap pmem have none); the poison stays until the platform clears it"))
            }
            guard let cap = ndctl_bus_cmd_new_ars_cap(bus, address, length) else {
                return .failure(DaxError(.system, operation: "ndctl_bus_cmd_new_ars_cap", path: path, message: "cannot build the ARS capability command"))
            }
            defer { ndctl_cmd_unref(cap) }
            let rc = ndctl_cmd_submit(cap)
            guard rc >= 0 else {
                return .failure(DaxError(.system, operation: "ars_cap", path: path, errno: Errno(rawValue: -rc),
                                         message: "the bus refused the ARS capability command"))
            }
            guard let clear = ndctl_bus_cmd_new_clear_error(address, length, cap) else {
                return .failure(DaxError(.system, operation: "ndctl_bus_cmd_new_clear_error", path: path,
                                         message: "cannot build the clear-error command (range not aligned to the clear unit?)"))
            }
            defer { ndctl_cmd_unref(clear) }
            let crc = ndctl_cmd_submit(clear)
            guard crc >= 0 else {
                return .failure(DaxError(.system, operation: "clear_error", path: path, offset: address, length: length,
                                         errno: Errno(rawValue: -crc), message: "the bus refused the clear-error command"))
            }
            return .success(ndctl_cmd_clear_error_get_cleared(clear))
        }
        return result ?? .failure(DaxError(.unsupported, operation: "clear", path: path,
                                           message: "libndctl does not know \(region)"))
    }

    /// libndctl's region deep flush (sysfs `deep_flush`): nil when done,
    /// else the errno (EACCES/EPERM/ENOENT: the region has no flush hints).
    static func deepFlush(region: String) -> Errno?? {
        withRegion(region) { _, r in
            let rc = ndctl_region_deep_flush(r)
            return rc == 0 ? nil : Errno(rawValue: rc < 0 ? -rc : rc)
        }
    }

    /// The sum of the unsafe-shutdown counts of the region's DIMMs, as
    /// libpmem2's `pmem2_source_device_usc`: unsupported when the region has
    /// no DIMM or one of them cannot tell, failed when reading one failed.
    static func unsafeShutdownCount(region: String) -> DirtyShutdownCount {
        withRegion(region) { _, r -> DirtyShutdownCount in
            var total = 0
            var dimms = 0
            var mapping = ndctl_mapping_get_first(r)
            while let m = mapping {
                if let dimm = ndctl_mapping_get_dimm(m) {
                    dimms += 1
                    switch DirtyShutdownCount(returnValue: Int64(ndctl_dimm_get_dirty_shutdown(dimm))) {
                    case .count(let n): total += n
                    case .unsupported: return .unsupported
                    case .failed(let e): return .failed(e)
                    }
                }
                mapping = ndctl_mapping_get_next(m)
            }
            return dimms == 0 ? .unsupported : .count(total)
        } ?? .unsupported
    }
}
