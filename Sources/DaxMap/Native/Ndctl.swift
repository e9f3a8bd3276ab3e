internal import CNdctl
import Glibc
import SystemPackage

// The only file that calls libndctl. As in Daxctl.swift, everything is copied
// out while the context lives and the context is unreferenced before returning.

enum Ndctl {
    /// Every NVDIMM bus with its DIMMs, regions and namespaces (idle ones
    /// included). An absent or empty `/sys/bus/nd` gives an empty array.
    static func buses() -> Result<[NvdimmBus], DaxError> {
        var ctx: OpaquePointer?
        let rc = ndctl_new(&ctx)
        guard rc == 0, let ctx else {
            return .failure(DaxError(
                .system, operation: "ndctl_new", errno: Errno(rawValue: rc < 0 ? -rc : (rc == 0 ? ENOMEM : rc)),
                message: "cannot create a libndctl context"))
        }
        defer { _ = ndctl_unref(ctx) }
        // Quiet unless the user asks with NDCTL_LOG=debug (libndctl logs to stderr).
        if Syscalls.environment("NDCTL_LOG") == nil { ndctl_set_log_priority(ctx, 0) }

        var buses: [NvdimmBus] = []
        var bus = ndctl_bus_get_first(ctx)
        while let b = bus {
            buses.append(snapshot(bus: b))
            bus = ndctl_bus_get_next(b)
        }
        return .success(buses)
    }

    private static func snapshot(bus b: OpaquePointer) -> NvdimmBus {
        var dimms: [NvdimmDimm] = []
        var dimm = ndctl_dimm_get_first(b)
        while let d = dimm {
            dimms.append(snapshot(dimm: d))
            dimm = ndctl_dimm_get_next(d)
        }
        var regions: [NvdimmRegion] = []
        var region = ndctl_region_get_first(b)
        while let r = region {
            regions.append(snapshot(region: r))
            region = ndctl_region_get_next(r)
        }
        return NvdimmBus(
            provider: string(ndctl_bus_get_provider(b)) ?? "",
            name: string(ndctl_bus_get_devname(b)) ?? "",
            dimms: dimms, regions: regions)
    }

    private static func snapshot(dimm d: OpaquePointer) -> NvdimmDimm {
        let handle = ndctl_dimm_get_handle(d)
        let physID = ndctl_dimm_get_phys_id(d)
        return NvdimmDimm(
            name: string(ndctl_dimm_get_devname(d)) ?? "",
            uniqueID: string(ndctl_dimm_get_unique_id(d)),
            handle: handle == UInt32.max ? nil : handle,
            physicalID: physID == UInt16.max ? nil : physID,
            dirtyShutdown: DirtyShutdownCount(returnValue: Int64(ndctl_dimm_get_dirty_shutdown(d))))
    }

    private static func snapshot(region r: OpaquePointer) -> NvdimmRegion {
        var badblocks: [Badblock] = []
        var bb = ndctl_region_get_first_badblock(r)
        while let p = bb {
            badblocks.append(Badblock(sectorOffset: p.pointee.offset, sectorCount: UInt64(p.pointee.len)))
            bb = ndctl_region_get_next_badblock(r)
        }
        let resource = known(ndctl_region_get_resource(r))

        var namespaces: [NvdimmNamespace] = []
        var ns = ndctl_namespace_get_first(r)
        while let n = ns {
            namespaces.append(snapshot(namespace: n, regionResource: resource, regionBadblocks: badblocks))
            ns = ndctl_namespace_get_next(n)
        }
        let align = ndctl_region_get_align(r)
        return NvdimmRegion(
            name: string(ndctl_region_get_devname(r)) ?? "",
            size: known(ndctl_region_get_size(r)),
            availableSize: known(ndctl_region_get_available_size(r)),
            align: align == 0 || align == UInt.max ? nil : UInt64(align),
            type: string(ndctl_region_get_type_name(r)),
            resource: resource,
            persistenceDomain: persistenceDomain(ndctl_region_get_persistence_domain(r)),
            isEnabled: ndctl_region_is_enabled(r) != 0,
            badblocks: badblocks,
            namespaces: namespaces)
    }

    /// Mirrors `util_namespace_to_json` of ndctl: the size, uuid, device and
    /// alignment come from the personality (btt, pfn, dax) when there is one.
    private static func snapshot(
        namespace n: OpaquePointer, regionResource: UInt64?, regionBadblocks: [Badblock]
    ) -> NvdimmNamespace {
        let btt = ndctl_namespace_get_btt(n)
        let pfn = ndctl_namespace_get_pfn(n)
        let dax = ndctl_namespace_get_dax(n)
        let mode = namespaceMode(ndctl_namespace_get_mode(n))

        var size: UInt64?
        switch mode {
        case .fsdax: size = known(pfn.map { ndctl_pfn_get_size($0) } ?? ndctl_namespace_get_size(n))
        case .devdax: size = dax.flatMap { known(ndctl_dax_get_size($0)) }
        case .sector: size = btt.flatMap { known(ndctl_btt_get_size($0)) }
        case .raw, .unknown: size = known(ndctl_namespace_get_size(n))
        }

        var uuid: String?
        var blockDevice: String?
        var charDevice: String?
        var align: UInt64?
        var badblocks: [Badblock]?
        if let btt {
            uuid = uuidString { ndctl_btt_get_uuid(btt, $0) }
            blockDevice = string(ndctl_btt_get_block_device(btt))
        } else if let pfn {
            uuid = uuidString { ndctl_pfn_get_uuid(pfn, $0) }
            blockDevice = string(ndctl_pfn_get_block_device(pfn))
            align = nonzero(UInt64(ndctl_pfn_get_align(pfn)))
        } else if let dax {
            uuid = uuidString { ndctl_dax_get_uuid(dax, $0) }
            align = nonzero(UInt64(ndctl_dax_get_align(dax)))
            // Only an enabled instance has a device to name.
            if let daxRegion = ndctl_dax_get_daxctl_region(dax) {
                charDevice = Daxctl.firstDeviceName(ofRegion: daxRegion)
            }
            // The block layer keeps no badblocks for device-dax: take the
            // region's and cut out the instance's range, as `ndctl list` does.
            if let regionResource, let start = known(ndctl_dax_get_resource(dax)),
                let daxSize = known(ndctl_dax_get_size(dax))
            {
                badblocks = Badblock.rebase(regionBadblocks, from: regionResource, onto: start..<(start &+ daxSize))
            }
        } else {
            uuid = uuidString { ndctl_namespace_get_uuid(n, $0) }
            blockDevice = string(ndctl_namespace_get_block_device(n))
        }
        if badblocks == nil {
            // The namespace's block device badblocks (pfn or raw); none for btt/dax.
            var list: [Badblock] = []
            var bb = ndctl_namespace_get_first_badblock(n)
            while let p = bb {
                list.append(Badblock(sectorOffset: p.pointee.offset, sectorCount: UInt64(p.pointee.len)))
                bb = ndctl_namespace_get_next_badblock(n)
            }
            badblocks = list
        }
        return NvdimmNamespace(
            name: string(ndctl_namespace_get_devname(n)) ?? "",
            mode: mode, size: size, uuid: uuid,
            blockDevice: blockDevice.flatMap { $0.isEmpty ? nil : $0 },
            charDevice: charDevice,
            align: align,
            isActive: ndctl_namespace_is_active(n),
            badblocks: badblocks ?? [])
    }

    private static func namespaceMode(_ m: ndctl_namespace_mode) -> NamespaceMode {
        switch m {
        case NDCTL_NS_MODE_FSDAX: return .fsdax
        case NDCTL_NS_MODE_DEVDAX: return .devdax
        case NDCTL_NS_MODE_SECTOR: return .sector
        case NDCTL_NS_MODE_RAW: return .raw
        default: return .unknown
        }
    }

    private static func persistenceDomain(_ d: ndctl_persistence_domain) -> PersistenceDomain {
        switch d {
        case PERSISTENCE_CPU_CACHE: return .cpuCache
        case PERSISTENCE_MEM_CTRL: return .memoryController
        case PERSISTENCE_NONE: return .none
        default: return .unknown
        }
    }

    /// Formats the 16 bytes a `*_get_uuid` call writes (libuuid's `uuid_t`),
    /// or nil for the null UUID. Done here rather than with `uuid_unparse` so
    /// that daxmap never links libuuid itself.
    private static func uuidString(_ fill: (UnsafeMutablePointer<UInt8>) -> Void) -> String? {
        var bytes = [UInt8](repeating: 0, count: 16)
        bytes.withUnsafeMutableBufferPointer { fill($0.baseAddress!) }
        return formatUUID(bytes)
    }

    /// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in lower case, nil when all zero.
    static func formatUUID(_ bytes: [UInt8]) -> String? {
        guard bytes.count == 16, bytes.contains(where: { $0 != 0 }) else { return nil }
        let hex: [Character] = Array("0123456789abcdef")
        var s = ""
        for (i, byte) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { s.append("-") }
            s.append(hex[Int(byte >> 4)])
            s.append(hex[Int(byte & 0xf)])
        }
        return s
    }

    /// libndctl returns ULLONG_MAX for "unknown".
    private static func known(_ v: UInt64) -> UInt64? { v == UInt64.max ? nil : v }
    private static func nonzero(_ v: UInt64) -> UInt64? { v == 0 || v == UInt64(UInt.max) ? nil : v }

    private static func string(_ p: UnsafePointer<CChar>?) -> String? {
        guard let p else { return nil }
        return String(cString: p)
    }
}
