extension ListingValue {
    /// The CXL part of a listing: one object `{"cxl": {...}}` holding `memdevs`,
    /// `root decoders`, `port decoders`, `endpoint decoders` and `regions` (`cxl list -M -D
    /// -R`'s groups, empty ones left out); nil when there is nothing CXL.
    ///
    /// Each region also names what libnvdimm and device-dax made of it, by physical
    /// address: `nd_region` (the NVDIMM region on the CXL nvdimm bus) and `chardevs`
    /// (its device-dax instances). Disabled regions only with `includeIdle`.
    package static func cxl(
        _ topology: CxlTopology, daxRegions: [DaxRegion] = [], nvdimmBuses: [NvdimmBus] = [], includeIdle: Bool = false
    ) -> JSONValue? {
        guard !topology.isEmpty else { return nil }
        var f: [Field] = []
        if !topology.memdevs.isEmpty { f.append(("memdevs", .array(topology.memdevs.map(cxlMemdev)))) }
        for kind in CxlDecoder.Kind.allCases {
            let decoders = topology.decoders.filter { $0.kind == kind }
            if !decoders.isEmpty { f.append(("\(kind.rawValue) decoders", .array(decoders.map(cxlDecoder)))) }
        }
        let regions = topology.regions.filter { includeIdle || $0.isEnabled }
        if !regions.isEmpty {
            let ndRegions = nvdimmBuses.flatMap(\.regions)
            let devices = daxRegions.flatMap(\.devices).filter { includeIdle || $0.size > 0 }
            f.append(("regions", .array(regions.map { region in
                var value = cxlRegion(region)
                guard case .object(var fields) = value else { return value }
                if let nd = ndRegions.first(where: { $0.resource.map(region.contains(address:)) ?? false }) {
                    fields.append(("nd_region", .string(nd.name)))
                }
                let chardevs = devices.filter { $0.resource.map(region.contains(address:)) ?? false }.map(\.name)
                if !chardevs.isEmpty { fields.append(("chardevs", .array(chardevs.map { .string($0) }))) }
                value = .object(fields)
                return value
            })))
        }
        return .object([("cxl", .object(f))])
    }

    /// One memdev as `cxl list -M`: `memdev`, `pmem_size`, `ram_size` (each when non-zero),
    /// `serial`, `numa_node` (when known), `host`.
    package static func cxlMemdev(_ memdev: CxlMemdev) -> JSONValue {
        var f: [Field] = [("memdev", .string(memdev.name))]
        if let size = memdev.pmemSize { f.append(("pmem_size", .uint(size))) }
        if let size = memdev.ramSize { f.append(("ram_size", .uint(size))) }
        if let serial = memdev.serial { f.append(("serial", .uint(serial))) }
        if let node = memdev.numaNode { f.append(("numa_node", .int(Int64(node)))) }
        if let host = memdev.host { f.append(("host", .string(host))) }
        return .object(f)
    }

    /// One decoder as `cxl list -D`: `decoder`, `resource`, `size`, `interleave_ways`,
    /// `region`, an endpoint's `dpa_resource`, `dpa_size` and `mode`, a root's
    /// `pmem_capable` and `volatile_capable` (when true).
    package static func cxlDecoder(_ decoder: CxlDecoder) -> JSONValue {
        var f: [Field] = [("decoder", .string(decoder.name))]
        if let resource = decoder.resource { f.append(("resource", .uint(resource))) }
        if let size = decoder.size { f.append(("size", .uint(size))) }
        if let ways = decoder.interleaveWays { f.append(("interleave_ways", .uint(UInt64(ways)))) }
        if decoder.isPmemCapable { f.append(("pmem_capable", .bool(true))) }
        if decoder.isVolatileCapable { f.append(("volatile_capable", .bool(true))) }
        if let region = decoder.region { f.append(("region", .string(region))) }
        if let dpa = decoder.dpaResource { f.append(("dpa_resource", .uint(dpa))) }
        if let dpaSize = decoder.dpaSize { f.append(("dpa_size", .uint(dpaSize))) }
        if let mode = decoder.mode { f.append(("mode", .string(mode))) }
        return .object(f)
    }

    /// One region as `cxl list -R -T`: `region`, `resource`, `size`, `type` (newer
    /// `cxl list` prints it; 76.1 does not), `interleave_ways`, `interleave_granularity`,
    /// `decode_state` (`commit` or `reset`), `state` when disabled, `mappings`.
    package static func cxlRegion(_ region: CxlRegion) -> JSONValue {
        var f: [Field] = [("region", .string(region.name))]
        if let resource = region.resource { f.append(("resource", .uint(resource))) }
        if let size = region.size { f.append(("size", .uint(size))) }
        if let type = region.type { f.append(("type", .string(type))) }
        if let ways = region.interleaveWays { f.append(("interleave_ways", .uint(UInt64(ways)))) }
        if let g = region.interleaveGranularity { f.append(("interleave_granularity", .uint(UInt64(g)))) }
        f.append(("decode_state", .string(region.isCommitted ? "commit" : "reset")))
        if !region.isEnabled { f.append(("state", .string("disabled"))) }
        if !region.mappings.isEmpty {
            f.append(("mappings", .array(region.mappings.map {
                .object([
                    ("position", .uint(UInt64($0.position))), ("memdev", .string($0.memdev)),
                    ("decoder", .string($0.decoder)),
                ])
            })))
        }
        return .object(f)
    }
}

extension ListingValue {
    /// ``daxRegion(_:includeIdle:)``, with `cxl_region` and `memdevs` on each device the
    /// topology's regions hold (by physical address).
    static func daxRegion(_ region: DaxRegion, cxl topology: CxlTopology, includeIdle: Bool) -> JSONValue {
        let plain = daxRegion(region, includeIdle: includeIdle)
        guard !topology.regions.isEmpty, case .object(var fields) = plain,
            let at = fields.firstIndex(where: { $0.0 == "devices" }), case .array(let items) = fields[at].1
        else { return plain }
        let devices = region.devices.filter { includeIdle || $0.size > 0 }
        fields[at].1 = .array(zip(items, devices).map { item, device in
            guard let cxl = topology.region(forDaxDevice: device), case .object(var f) = item else { return item }
            f.append(("cxl_region", .string(cxl.name)))
            f.append(("memdevs", .array(cxl.memdevs.map { .string($0) })))
            return .object(f)
        })
        return .object(fields)
    }
}
