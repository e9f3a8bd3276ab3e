import ArgumentParser
import DaxMap

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Open PATH and show what daxmap sees: kind, size, alignment, granularity.",
        discussion: "A device-dax in system-ram mode (kmem) is reported with its NUMA node and memory blocks, and why it cannot be mapped (exit 0). A file this user may read but not write is shown (opened read-only). Exit 1 when PATH cannot be opened, 64 on bad arguments.")

    @Argument(help: "A /dev/daxX.Y device, a file on a DAX mount, or a plain file (emulated).")
    var path: String

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let device: DaxDevice
        do { device = try Self.open(path) } catch {
            // A device in system-ram mode is reported as such (it cannot be opened, but it exists).
            if error.code == .systemRAM, let info = DaxDiscovery.daxDevice(atPath: path) {
                reportSystemRAM(info, refusal: error)
                return
            }
            throw fail(error)
        }
        defer { device.close() }
        if json {
            printLine(device.json.rendered())
        } else {
            printLine("""
                \(device.path)
                  kind         \(device.kind)
                  size         \(device.size) bytes (\(humanBytes(device.size)))
                  align        \(device.alignment) (\(humanBytes(device.alignment)))
                  granularity  \(device.granularity)
                  numa node    \(device.numaNode.map(String.init) ?? "unknown")
                  badblocks    \(device.badblocks.isEmpty ? "none known" : device.badblocks.map { "[\($0.lowerBound), \($0.upperBound))" }.joined(separator: " "))
                """)
            if let cxl = device.cxlRegion {
                printLine("  cxl region   \(cxl.name) (\(cxl.type ?? "?"), \(cxl.interleaveWays ?? 0)-way) on \(cxl.memdevs.joined(separator: ", "))")
            }
        }
    }
}

extension InfoCommand {
    /// info only looks: a file this user may read but not write is opened
    /// read-only (not refused as "permission denied").
    static func open(_ path: String) throws(DaxError) -> DaxDevice {
        do { return try DaxDevice.open(path, options: .init(requiredGranularity: .page)) } catch {
            guard error.code == .permissionDenied else { throw error }
            return try DaxDevice.open(path, options: .init(requiredGranularity: .page, readOnly: true))
        }
    }

    /// What `daxctl list` says of a system-ram device, and why daxmap will not map it.
    func reportSystemRAM(_ info: DaxDeviceInfo, refusal: DaxError) {
        let ram = info.systemRAM
        if json {
            var fields: [(String, JSON)] = [
                ("path", .string(path)), ("kind", .string(info.mode.rawValue)), ("size", .uint(info.size)),
                ("align", info.align.map { .uint($0) } ?? .null), ("numa_node", info.targetNode.map { .int(Int64($0)) } ?? .null),
            ]
            if let ram {
                fields += [("online_memblocks", .int(Int64(ram.onlineBlocks))), ("total_memblocks", .int(Int64(ram.totalBlocks))),
                           ("movable", ram.movable.map { .bool($0) } ?? .null),
                           ("memblock_size", ram.blockSize.map { .uint($0) } ?? .null)]
            }
            fields += [("mappable", .bool(false)), ("reason", .string(refusal.message))]
            printLine(JSON.object(fields).rendered())
        } else {
            let blocks = ram.map { r in
                "\(r.onlineBlocks) of \(r.totalBlocks) blocks online (\(r.onlineState))"
                    + (r.blockSize.map { ", \(humanBytes($0)) each" } ?? "") + (r.movable.map { $0 ? ", movable" : ", not movable" } ?? "")
            } ?? "unknown (needs root)"
            printLine("""
                \(path)
                  kind         system-ram (kmem): not mappable
                  size         \(info.size) bytes (\(humanBytes(info.size)))
                  numa node    \(info.targetNode.map(String.init) ?? "unknown")
                  memory       \(blocks)
                  why          \(refusal.message)
                """)
        }
    }
}

extension DaxDevice {
    /// `daxctl list` key names where they exist.
    var json: JSON {
        .object([
            ("path", .string(path)),
            ("kind", .string(kind.rawValue)),
            ("size", .uint(size)),
            ("align", .uint(alignment)),
            ("granularity", .string(granularity.description)),
            ("numa_node", numaNode.map { .int(Int64($0)) } ?? .null),
            ("badblock_count", .int(Int64(badblocks.count))),
            ("badblocks", .array(badblocks.map { .object([("offset", .uint($0.lowerBound)), ("length", .uint($0.upperBound - $0.lowerBound))]) })),
        ] + cxlFields)
    }

    /// `cxl_region` and `memdevs` (`cxl list` names) for a device made from a CXL region.
    private var cxlFields: [(String, JSON)] {
        guard let region = cxlRegion else { return [] }
        return [("cxl_region", .string(region.name)), ("memdevs", .array(region.memdevs.map { .string($0) }))]
    }
}

func humanBytes(_ n: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(n)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(n) B" : String(Int(value * 100) / 100) + "." + String(format2(Int(value * 100) % 100)) + " " + units[unit]
}

private func format2(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
