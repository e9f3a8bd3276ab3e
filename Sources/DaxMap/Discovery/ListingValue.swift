/// Discovery results as `daxctl list` / `ndctl list` would print them: an
/// ordered tree of keys and values, using those tools' key names and their
/// rules for what to leave out, but always raw numbers (never `-u` units).
///
/// The `daxmap list --json` command renders this; it lives in the library so
/// the mapping can be tested and reused (for example by a monitoring agent that
/// already parses `ndctl list`).
///
/// The top-level ``listing(daxRegions:nvdimmBuses:cxl:includeIdle:)`` is an array:
/// first one object per DAX region (the elements of `daxctl list -R -D`), then
/// one object per NVDIMM bus (the elements of `ndctl list -B -D -R -N`), then one
/// `cxl` object with the CXL memdevs, decoders and regions. It is `[]` on a machine
/// with none of them.
public enum ListingValue: Sendable, Hashable {
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case string(String)
    case array([ListingValue])
    /// Key/value pairs in printing order.
    case object([Field])

    /// One key/value pair of an ``object(_:)``.
    public struct Field: Sendable, Hashable {
        public var key: String
        public var value: ListingValue
        public init(_ key: String, _ value: ListingValue) {
            self.key = key
            self.value = value
        }
    }

    /// The value under `key` when this is an object.
    public subscript(key: String) -> ListingValue? {
        guard case .object(let fields) = self else { return nil }
        return fields.first { $0.key == key }?.value
    }

    /// The keys in order when this is an object, else empty.
    public var keys: [String] {
        guard case .object(let fields) = self else { return [] }
        return fields.map(\.key)
    }

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
    public static func listing(
        daxRegions: [DaxRegion], nvdimmBuses: [NvdimmBus], cxl: CxlTopology = CxlTopology(), includeIdle: Bool = false
    ) -> ListingValue {
        .array(daxRegions.map { daxRegion($0, cxl: cxl, includeIdle: includeIdle) }
            + nvdimmBuses.map { nvdimmBus($0, includeIdle: includeIdle) }
            + [Self.cxl(cxl, daxRegions: daxRegions, nvdimmBuses: nvdimmBuses, includeIdle: includeIdle)].compactMap { $0 })
    }

    /// One DAX region as `daxctl list -R -D` prints it: `path` (without the
    /// `/sys/devices` prefix), `id`, `size`, `align`, `devices`.
    public static func daxRegion(_ region: DaxRegion, includeIdle: Bool = false) -> ListingValue {
        var f: [Field] = []
        let prefix = "/sys/devices"
        let path = region.path.hasPrefix(prefix + "/") ? String(region.path.dropFirst(prefix.count)) : region.path
        f.append(Field("path", .string(path)))
        f.append(Field("id", .int(Int64(region.id))))
        if let size = region.size { f.append(Field("size", .uint(size))) }
        if let align = region.align { f.append(Field("align", .uint(align))) }
        let devices = region.devices.filter { includeIdle || $0.size > 0 }
        if !devices.isEmpty { f.append(Field("devices", .array(devices.map(daxDevice)))) }
        return .object(f)
    }

    /// One device-dax instance as `daxctl list -D` prints it: `chardev`,
    /// `size`, `target_node`, `align`, `mode`; in system-ram mode
    /// `online_memblocks`, `total_memblocks` and `movable` (only while some
    /// block is online); `state` when disabled.
    public static func daxDevice(_ device: DaxDeviceInfo) -> ListingValue {
        var f: [Field] = [Field("chardev", .string(device.name)), Field("size", .uint(device.size))]
        if let node = device.targetNode { f.append(Field("target_node", .int(Int64(node)))) }
        if let align = device.align { f.append(Field("align", .uint(align))) }
        f.append(Field("mode", .string(device.mode.rawValue)))
        if device.mode == .systemRAM, let ram = device.systemRAM {
            f.append(Field("online_memblocks", .int(Int64(ram.onlineBlocks))))
            f.append(Field("total_memblocks", .int(Int64(ram.totalBlocks))))
            if let movable = ram.movable { f.append(Field("movable", .bool(movable))) }
        }
        if !device.isEnabled { f.append(Field("state", .string("disabled"))) }
        return .object(f)
    }

    /// One NVDIMM bus as `ndctl list -B -D -R -N` prints it: `provider`, `dev`,
    /// `dimms`, `regions`.
    public static func nvdimmBus(_ bus: NvdimmBus, includeIdle: Bool = false) -> ListingValue {
        var f: [Field] = [Field("provider", .string(bus.provider)), Field("dev", .string(bus.name))]
        if !bus.dimms.isEmpty { f.append(Field("dimms", .array(bus.dimms.map(nvdimmDimm)))) }
        let regions = bus.regions.filter { includeIdle || $0.isEnabled }
        if !regions.isEmpty { f.append(Field("regions", .array(regions.map { nvdimmRegion($0, includeIdle: includeIdle) }))) }
        return .object(f)
    }

    /// One DIMM: `dev`, `id`, `handle`, `phys_id` as `ndctl list -D`, plus
    /// `dirty_shutdown` (the sysfs attribute's name) where the platform counts.
    public static func nvdimmDimm(_ dimm: NvdimmDimm) -> ListingValue {
        var f: [Field] = [Field("dev", .string(dimm.name))]
        if let id = dimm.uniqueID { f.append(Field("id", .string(id))) }
        if let handle = dimm.handle { f.append(Field("handle", .uint(UInt64(handle)))) }
        if let phys = dimm.physicalID { f.append(Field("phys_id", .uint(UInt64(phys)))) }
        if let count = dimm.dirtyShutdown.value { f.append(Field("dirty_shutdown", .int(Int64(count)))) }
        return .object(f)
    }

    /// One region as `ndctl list -R -N`: `dev`, `size`, `align`,
    /// `available_size`, `type`, `badblock_count` (when non-zero),
    /// `persistence_domain`, `namespaces`, and `state` when disabled.
    public static func nvdimmRegion(_ region: NvdimmRegion, includeIdle: Bool = false) -> ListingValue {
        var f: [Field] = [Field("dev", .string(region.name))]
        if let size = region.size { f.append(Field("size", .uint(size))) }
        if let align = region.align { f.append(Field("align", .uint(align))) }
        if let available = region.availableSize { f.append(Field("available_size", .uint(available))) }
        if let type = region.type { f.append(Field("type", .string(type))) }
        if region.badblockCount > 0 { f.append(Field("badblock_count", .uint(region.badblockCount))) }
        f.append(Field("persistence_domain", .string(region.persistenceDomain.rawValue)))
        let namespaces = region.namespaces.filter { includeIdle || ($0.isActive && ($0.size ?? 0) > 0) }
        if !namespaces.isEmpty { f.append(Field("namespaces", .array(namespaces.map(nvdimmNamespace)))) }
        if !region.isEnabled { f.append(Field("state", .string("disabled"))) }
        return .object(f)
    }

    /// One namespace as `ndctl list -N`: `dev`, `mode`, `size`, `uuid`,
    /// `chardev`, `align`, `blockdev`, `state` when inactive, `badblock_count`
    /// when non-zero.
    public static func nvdimmNamespace(_ ns: NvdimmNamespace) -> ListingValue {
        var f: [Field] = [Field("dev", .string(ns.name))]
        if ns.mode != .unknown { f.append(Field("mode", .string(ns.mode.rawValue))) }
        if let size = ns.size { f.append(Field("size", .uint(size))) }
        if let uuid = ns.uuid { f.append(Field("uuid", .string(uuid))) }
        if let chardev = ns.charDevice { f.append(Field("chardev", .string(chardev))) }
        if let align = ns.align { f.append(Field("align", .uint(align))) }
        if let blockdev = ns.blockDevice { f.append(Field("blockdev", .string(blockdev))) }
        if !ns.isActive { f.append(Field("state", .string("disabled"))) }
        if ns.badblockCount > 0 { f.append(Field("badblock_count", .uint(ns.badblockCount))) }
        return .object(f)
    }
}
