import Glibc
import ArgumentParser
import DaxMap

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List DAX regions and devices, NVDIMM buses, regions and namespaces, and CXL memdevs, decoders and regions.",
        discussion: """
            With --json, prints an array: one object per DAX region, as `daxctl list -R -D` \
            prints them, then one object per NVDIMM bus, as `ndctl list -B -D -R -N` prints \
            them (raw numbers, never units), then one {"cxl": ...} object with the memdevs, \
            decoders and regions as `cxl list -M -D -R` names them. Prints [] when there is nothing.
            """
    )

    @Flag(name: .long, help: "Print JSON using daxctl/ndctl key names.")
    var json = false

    @Flag(name: [.short, .long], help: "Also list idle objects: seed devices, disabled regions, inactive namespaces.")
    var idle = false

    func run() async throws {
        let regions: [DaxRegion]
        let buses: [NvdimmBus]
        let cxl: CxlTopology
        do {
            regions = try DaxDiscovery.daxRegions()
            buses = try DaxDiscovery.nvdimmBuses()
            cxl = try DaxDiscovery.cxlTopology()
        } catch {
            printError("daxmap list: \(error)")
            throw ExitCode.failure
        }
        let listing = ListingValue.listing(daxRegions: regions, nvdimmBuses: buses, cxl: cxl, includeIdle: idle)
        if json {
            print(listing.rendered())
            return
        }
        print(ListCommand.humanText(listing), terminator: "")
    }

    /// A readable indented text of the same listing.
    static func humanText(_ listing: JSONValue) -> String {
        guard case .array(let items) = listing, !items.isEmpty else {
            return "No DAX devices, NVDIMM namespaces or CXL memory found.\n"
        }
        var out = ""
        for item in items {
            if let cxl = item["cxl"] {
                cxlTopology(cxl, into: &out)
            } else if item["provider"] != nil {
                bus(item, into: &out)
            } else {
                daxRegion(item, into: &out)
            }
        }
        return out
    }

    private static func daxRegion(_ r: JSONValue, into out: inout String) {
        out += "DAX region \(text(r["id"]))"
        if let size = r["size"] { out += "  size \(bytes(size))" }
        if let align = r["align"] { out += "  align \(bytes(align))" }
        if let path = r["path"] { out += "  /sys/devices\(text(path))" }
        out += "\n"
        guard case .array(let devices)? = r["devices"] else {
            out += "  (no devices)\n"
            return
        }
        for d in devices {
            out += "  /dev/\(text(d["chardev"]))  \(text(d["mode"]))  size \(bytes(d["size"]))"
            if let align = d["align"] { out += "  align \(bytes(align))" }
            if let node = d["target_node"] { out += "  target node \(text(node))" }
            if let online = d["online_memblocks"], let total = d["total_memblocks"] {
                out += "  memory blocks \(text(online))/\(text(total)) online"
                if case .bool(let movable)? = d["movable"] { out += movable ? " (movable)" : " (not movable)" }
            }
            if let state = d["state"] { out += "  \(text(state))" }
            if let cxl = d["cxl_region"] { out += "  CXL \(text(cxl)) on \(list(d["memdevs"]))" }
            out += "\n"
        }
    }

    private static func cxlTopology(_ c: JSONValue, into out: inout String) {
        out += "CXL\n"
        if case .array(let memdevs)? = c["memdevs"] {
            for m in memdevs {
                out += "  memdev \(text(m["memdev"]))"
                if let size = m["pmem_size"] { out += "  pmem \(bytes(size))" }
                if let size = m["ram_size"] { out += "  ram \(bytes(size))" }
                if let serial = m["serial"] { out += "  serial \(text(serial))" }
                if let host = m["host"] { out += "  host \(text(host))" }
                out += "\n"
            }
        }
        guard case .array(let regions)? = c["regions"] else { return }
        for r in regions {
            out += "  region \(text(r["region"]))  \(r["type"].map(text) ?? "?")  size \(bytes(r["size"]))"
            out += "  \(text(r["interleave_ways"]))-way  \(text(r["decode_state"]))"
            if case .array(let maps)? = r["mappings"] { out += "  on \(maps.map { text($0["memdev"]) }.joined(separator: ","))" }
            if let nd = r["nd_region"] { out += "  nd \(text(nd))" }
            if let devs = r["chardevs"] { out += "  dax \(list(devs))" }
            if let state = r["state"] { out += "  \(text(state))" }
            out += "\n"
        }
    }

    private static func list(_ v: JSONValue?) -> String {
        guard case .array(let items)? = v else { return text(v) }
        return items.map(text).joined(separator: ",")
    }

    private static func bus(_ b: JSONValue, into out: inout String) {
        out += "NVDIMM bus \(text(b["dev"])) (\(text(b["provider"])))\n"
        if case .array(let dimms)? = b["dimms"] {
            for d in dimms {
                out += "  DIMM \(text(d["dev"]))"
                if let id = d["id"] { out += "  id \(text(id))" }
                out += "  dirty shutdowns: \(d["dirty_shutdown"].map(text) ?? "not reported")\n"
            }
        }
        guard case .array(let regions)? = b["regions"] else { return }
        for r in regions {
            out += "  region \(text(r["dev"]))  \(text(r["type"]))  size \(bytes(r["size"]))"
            if let align = r["align"] { out += "  align \(bytes(align))" }
            out += "  persistence domain \(text(r["persistence_domain"]))"
            out += "  badblocks \(r["badblock_count"].map(text) ?? "0")"
            if let state = r["state"] { out += "  \(text(state))" }
            out += "\n"
            guard case .array(let namespaces)? = r["namespaces"] else { continue }
            for n in namespaces {
                out += "    \(text(n["dev"]))  \(n["mode"].map(text) ?? "unknown")"
                if let size = n["size"] { out += "  size \(bytes(size))" }
                if let dev = n["chardev"] { out += "  /dev/\(text(dev))" }
                if let dev = n["blockdev"] { out += "  /dev/\(text(dev))" }
                if let align = n["align"] { out += "  align \(bytes(align))" }
                if let uuid = n["uuid"] { out += "  uuid \(text(uuid))" }
                if let count = n["badblock_count"] { out += "  badblocks \(text(count))" }
                if let state = n["state"] { out += "  \(text(state))" }
                out += "\n"
            }
        }
    }

    private static func text(_ v: JSONValue?) -> String {
        switch v {
        case .string(let s)?: return s
        case .int(let i)?: return String(i)
        case .uint(let u)?: return String(u)
        case .bool(let b)?: return String(b)
        default: return "?"
        }
    }

    /// 1054867456 -> "1006.00 MiB", as `daxctl list -u` rounds.
    private static func bytes(_ v: JSONValue?) -> String {
        let n: UInt64
        switch v {
        case .uint(let u)?: n = u
        case .int(let i)? where i >= 0: n = UInt64(i)
        default: return text(v)
        }
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var unit = 0
        var scaled = Double(n)
        while scaled >= 1024, unit < units.count - 1 {
            scaled /= 1024
            unit += 1
        }
        if unit == 0 { return "\(n) B" }
        let hundredths = Int((scaled * 100).rounded())
        let frac = hundredths % 100
        return "\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac) \(units[unit])"
    }
}
