internal import CCxl
import Glibc
import SystemPackage

// The only file that calls libcxl. As in Ndctl.swift, everything is copied out while the
// context lives and the context is unreferenced before returning. A machine without CXL
// (no /sys/bus/cxl) gives an empty topology: libcxl finds nothing to enumerate.

enum Cxl {
    static func topology() -> Result<CxlTopology, DaxError> {
        var ctx: OpaquePointer?
        let rc = cxl_new(&ctx)
        guard rc == 0, let ctx else {
            return .failure(DaxError(
                .system, operation: "cxl_new", errno: Errno(rawValue: rc < 0 ? -rc : (rc == 0 ? ENOMEM : rc)),
                message: "cannot create a libcxl context"))
        }
        defer { cxl_unref(ctx) }
        // Quiet unless the user asks with CXL_LOG=debug (libcxl logs to stderr).
        if Syscalls.environment("CXL_LOG") == nil { cxl_set_log_priority(ctx, 0) }

        var topology = CxlTopology()
        var memdev = cxl_memdev_get_first(ctx)
        while let m = memdev {
            topology.memdevs.append(snapshot(memdev: m))
            memdev = cxl_memdev_get_next(m)
        }
        var ports: [(OpaquePointer, CxlDecoder.Kind)] = []
        var bus = cxl_bus_get_first(ctx)
        while let b = bus {
            if let root = cxl_bus_get_port(b) {
                ports.append((root, .root))
                var port = cxl_port_get_first(root)
                while let p = port {
                    ports.append((p, .port))
                    port = cxl_port_get_next_all(p, root)
                }
            }
            bus = cxl_bus_get_next(b)
        }
        var endpoints: [OpaquePointer] = []
        for (port, kind) in ports {
            decoders(of: port, kind: kind, into: &topology)
            var endpoint = cxl_endpoint_get_first(port)
            while let e = endpoint {
                if let p = cxl_endpoint_get_port(e) { endpoints.append(p) }
                endpoint = cxl_endpoint_get_next(e)
            }
        }
        for port in endpoints { decoders(of: port, kind: .endpoint, into: &topology) }
        // libcxl 76 has no region mode: a region's endpoint decoders are in its mode.
        for i in topology.regions.indices {
            let names = Set(topology.regions[i].mappings.map(\.decoder))
            topology.regions[i].type = topology.decoders.first { names.contains($0.name) }?.mode
        }
        topology.decoders.sort { order($0.kind) < order($1.kind) }
        return .success(topology)
    }

    private static func order(_ kind: CxlDecoder.Kind) -> Int {
        switch kind {
        case .root: return 0
        case .port: return 1
        case .endpoint: return 2
        }
    }

    private static func decoders(of port: OpaquePointer, kind: CxlDecoder.Kind, into topology: inout CxlTopology) {
        var decoder = cxl_decoder_get_first(port)
        while let d = decoder {
            topology.decoders.append(snapshot(decoder: d, kind: kind))
            if kind == .root {
                var region = cxl_region_get_first(d)
                while let r = region {
                    topology.regions.append(snapshot(region: r, rootDecoder: string(cxl_decoder_get_devname(d)) ?? ""))
                    region = cxl_region_get_next(r)
                }
            }
            decoder = cxl_decoder_get_next(d)
        }
    }

    private static func snapshot(memdev m: OpaquePointer) -> CxlMemdev {
        let node = cxl_memdev_get_numa_node(m)
        return CxlMemdev(
            name: string(cxl_memdev_get_devname(m)) ?? "",
            pmemSize: nonzero(cxl_memdev_get_pmem_size(m)),
            ramSize: nonzero(cxl_memdev_get_ram_size(m)),
            serial: known(cxl_memdev_get_serial(m)),
            numaNode: node < 0 ? nil : Int(node),
            host: string(cxl_memdev_get_host(m)))
    }

    private static func snapshot(decoder d: OpaquePointer, kind: CxlDecoder.Kind) -> CxlDecoder {
        let ways = cxl_decoder_get_interleave_ways(d)
        return CxlDecoder(
            name: string(cxl_decoder_get_devname(d)) ?? "",
            kind: kind,
            resource: known(cxl_decoder_get_resource(d)),
            size: known(cxl_decoder_get_size(d)),
            interleaveWays: ways == 0 || ways == UInt32.max ? nil : ways,
            region: cxl_decoder_get_region(d).flatMap { string(cxl_region_get_devname($0)) },
            dpaResource: kind == .endpoint ? known(cxl_decoder_get_dpa_resource(d)) : nil,
            dpaSize: kind == .endpoint ? known(cxl_decoder_get_dpa_size(d)) : nil,
            mode: kind == .endpoint ? string(cxl_decoder_mode_name(cxl_decoder_get_mode(d))) : nil,
            isPmemCapable: kind == .root && cxl_decoder_is_pmem_capable(d),
            isVolatileCapable: kind == .root && cxl_decoder_is_volatile_capable(d))
    }

    private static func snapshot(region r: OpaquePointer, rootDecoder: String) -> CxlRegion {
        var mappings: [CxlRegion.Mapping] = []
        var mapping = cxl_mapping_get_first(r)
        while let m = mapping {
            if let d = cxl_mapping_get_decoder(m) {
                mappings.append(CxlRegion.Mapping(
                    position: UInt32(cxl_mapping_get_position(m)),
                    memdev: cxl_decoder_get_memdev(d).flatMap { string(cxl_memdev_get_devname($0)) } ?? "",
                    decoder: string(cxl_decoder_get_devname(d)) ?? ""))
            }
            mapping = cxl_mapping_get_next(m)
        }
        let ways = cxl_region_get_interleave_ways(r)
        let granularity = cxl_region_get_interleave_granularity(r)
        return CxlRegion(
            name: string(cxl_region_get_devname(r)) ?? "",
            rootDecoder: rootDecoder,
            resource: known(cxl_region_get_resource(r)),
            size: nonzero(cxl_region_get_size(r)),
            type: nil,
            interleaveWays: ways == 0 || ways == UInt32.max ? nil : ways,
            interleaveGranularity: granularity == 0 || granularity == UInt32.max ? nil : granularity,
            isCommitted: cxl_region_decode_is_committed(r) == 1,
            isEnabled: cxl_region_is_enabled(r) == 1,
            mappings: mappings)
    }

    /// libcxl returns ULLONG_MAX for "unknown".
    private static func known(_ v: UInt64) -> UInt64? { v == UInt64.max ? nil : v }
    private static func nonzero(_ v: UInt64) -> UInt64? { v == 0 || v == UInt64.max ? nil : v }

    private static func string(_ p: UnsafePointer<CChar>?) -> String? {
        guard let p else { return nil }
        return String(cString: p)
    }
}
