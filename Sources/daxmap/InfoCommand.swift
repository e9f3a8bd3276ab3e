import ArgumentParser
import DaxMap

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Open PATH and show what daxmap sees: kind, size, alignment, granularity.")

    @Argument(help: "A /dev/daxX.Y device, a file on a DAX mount, or a plain file (emulated).")
    var path: String

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let device: DaxDevice
        do { device = try DaxDevice.open(path, options: .init(requiredGranularity: .page)) } catch { throw fail(error) }
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
