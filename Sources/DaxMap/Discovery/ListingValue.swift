/// Discovery results as `daxctl list` / `ndctl list` would print them: a
/// ``JSONValue`` (keys in order) with those tools' key names and their rules
/// for what to leave out, but always raw numbers (never `-u` units).
///
/// The `daxmap list --json` command renders this; it lives in the library (at
/// package level: the CLI's, not API) so the mapping is tested here.
///
/// The top-level ``listing(daxRegions:nvdimmBuses:cxl:includeIdle:)`` is an array:
/// first one object per DAX region (the elements of `daxctl list -R -D`), then
/// one object per NVDIMM bus (the elements of `ndctl list -B -D -R -N`), then one
/// `cxl` object with the CXL memdevs, decoders and regions. It is `[]` on a machine
/// with none of them.
package enum ListingValue {
    /// One key/value pair of an object, in printing order.
    typealias Field = (String, JSONValue)

    // MARK: Building listings

    /// Everything, as described on the type.
    ///
    /// - Parameters:
    ///   - daxRegions: The DAX regions, each with its devices.
    ///   - nvdimmBuses: The NVDIMM buses, each with its regions and namespaces.
    ///   - includeIdle: Also list what the tools hide without `-i`:
    ///     size-0 seed devices and namespaces, disabled regions and inactive namespaces.
    ///   - cxl: The CXL topology: its ``cxl(_:daxRegions:nvdimmBuses:includeIdle:)`` object
    ///     comes last, and each device-dax instance made from a CXL region names it
    ///     (`cxl_region`) and its `memdevs`.
    package static func listing(
        daxRegions: [DaxRegion], nvdimmBuses: [NvdimmBus], cxl: CxlTopology = CxlTopology(), includeIdle: Bool = false
    ) -> JSONValue {
        .array(daxRegions.map { daxRegion($0, cxl: cxl, includeIdle: includeIdle) }
            + nvdimmBuses.map { nvdimmBus($0, includeIdle: includeIdle) }
            + [Self.cxl(cxl, daxRegions: daxRegions, nvdimmBuses: nvdimmBuses, includeIdle: includeIdle)].compactMap { $0 })
    }

    /// One DAX region as `daxctl list -R -D` prints it: `path` (without the
    /// `/sys/devices` prefix), `id`, `size`, `align`, `devices`.
    package static func daxRegion(_ region: DaxRegion, includeIdle: Bool = false) -> JSONValue {
        var f: [Field] = []
        let prefix = "/sys/devices"
        let path = region.path.hasPrefix(prefix + "/") ? String(region.path.dropFirst(prefix.count)) : region.path
        f.append(("path", .string(path)))
        f.append(("id", .int(Int64(region.id))))
        if let size = region.size { f.append(("size", .uint(size))) }
        if let align = region.align { f.append(("align", .uint(align))) }
        let devices = region.devices.filter { includeIdle || $0.size > 0 }
        if !devices.isEmpty { f.append(("devices", .array(devices.map(daxDevice)))) }
        return .object(f)
    }

    /// One device-dax instance as `daxctl list -D` prints it: `chardev`,
    /// `size`, `target_node`, `align`, `mode`; in system-ram mode
    /// `online_memblocks`, `total_memblocks` and `movable` (only while some
    /// block is online); `state` when disabled.
    package static func daxDevice(_ device: DaxDeviceInfo) -> JSONValue {
        var f: [Field] = [("chardev", .string(device.name)), ("size", .uint(device.size))]
        if let node = device.targetNode { f.append(("target_node", .int(Int64(node)))) }
        if let align = device.align { f.append(("align", .uint(align))) }
        f.append(("mode", .string(device.mode.rawValue)))
        if device.mode == .systemRAM, let ram = device.systemRAM {
            f.append(("online_memblocks", .int(Int64(ram.onlineBlocks))))
            f.append(("total_memblocks", .int(Int64(ram.totalBlocks))))
            if let movable = ram.movable { f.append(("movable", .bool(movable))) }
        }
        if !device.isEnabled { f.append(("state", .string("disabled"))) }
        return .object(f)
    }

    /// One NVDIMM bus as `ndctl list -B -D -R -N` prints it: `provider`, `dev`,
    /// `dimms`, `regions`.
    package static func nvdimmBus(_ bus: NvdimmBus, includeIdle: Bool = false) -> JSONValue {
        var f: [Field] = [("provider", .string(bus.provider)), ("dev", .string(bus.name))]
        if !bus.dimms.isEmpty { f.append(("dimms", .array(bus.dimms.map(nvdimmDimm)))) }
        let regions = bus.regions.filter { includeIdle || $0.isEnabled }
        if !regions.isEmpty { f.append(("regions", .array(regions.map { nvdimmRegion($0, includeIdle: includeIdle) }))) }
        return .object(f)
    }

    /// One DIMM: `dev`, `id`, `handle`, `phys_id` as `ndctl list -D`, plus
    /// `dirty_shutdown` (the sysfs attribute's name) where the platform counts.
    package static func nvdimmDimm(_ dimm: NvdimmDimm) -> JSONValue {
        var f: [Field] = [("dev", .string(dimm.name))]
        if let id = dimm.uniqueID { f.append(("id", .string(id))) }
        if let handle = dimm.handle { f.append(("handle", .uint(UInt64(handle)))) }
        if let phys = dimm.physicalID { f.append(("phys_id", .uint(UInt64(phys)))) }
        if let count = dimm.dirtyShutdown.value { f.append(("dirty_shutdown", .int(Int64(count)))) }
        return .object(f)
    }

    /// One region as `ndctl list -R -N`: `dev`, `size`, `align`,
    /// `available_size`, `type`, `badblock_count` (when non-zero),
    /// `persistence_domain`, `namespaces`, and `state` when disabled.
    package static func nvdimmRegion(_ region: NvdimmRegion, includeIdle: Bool = false) -> JSONValue {
        var f: [Field] = [("dev", .string(region.name))]
        if let size = region.size { f.append(("size", .uint(size))) }
        if let align = region.align { f.append(("align", .uint(align))) }
        if let available = region.availableSize { f.append(("available_size", .uint(available))) }
        if let type = region.type { f.append(("type", .string(type))) }
        if region.badblockCount > 0 { f.append(("badblock_count", .uint(region.badblockCount))) }
        f.append(("persistence_domain", .string(region.persistenceDomain.rawValue)))
        let namespaces = region.namespaces.filter { includeIdle || ($0.isActive && ($0.size ?? 0) > 0) }
        if !namespaces.isEmpty { f.append(("namespaces", .array(namespaces.map(nvdimmNamespace)))) }
        if !region.isEnabled { f.append(("state", .string("disabled"))) }
        return .object(f)
    }

    /// One namespace as `ndctl list -N`: `dev`, `mode`, `size`, `uuid`,
    /// `chardev`, `align`, `blockdev`, `state` when inactive, `badblock_count`
    /// when non-zero.
    package static func nvdimmNamespace(_ ns: NvdimmNamespace) -> JSONValue {
        var f: [Field] = [("dev", .string(ns.name))]
        if ns.mode != .unknown { f.append(("mode", .string(ns.mode.rawValue))) }
        if let size = ns.size { f.append(("size", .uint(size))) }
        if let uuid = ns.uuid { f.append(("uuid", .string(uuid))) }
        if let chardev = ns.charDevice { f.append(("chardev", .string(chardev))) }
        if let align = ns.align { f.append(("align", .uint(align))) }
        if let blockdev = ns.blockDevice { f.append(("blockdev", .string(blockdev))) }
        if !ns.isActive { f.append(("state", .string("disabled"))) }
        if ns.badblockCount > 0 { f.append(("badblock_count", .uint(ns.badblockCount))) }
        return .object(f)
    }
}
