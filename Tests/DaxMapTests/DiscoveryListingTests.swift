import Glibc
import Testing
@testable import DaxMap

/// The fixture files captured from a 6.12 kernel with qemu's emulated NVDIMM.
enum Fixture {
    /// The folder of one captured set under Fixtures/, e.g. `kernel-6.12-qemu-cxl`.
    static func directory(_ set: String) -> String {
        let file = "\(#filePath)"
        let dir = file[..<(file.lastIndex(of: "/") ?? file.endIndex)]
        return "\(dir)/Fixtures/\(set)"
    }

    static let directory = directory("kernel-6.12-qemu-nvdimm")

    static func text(_ name: String, in dir: String = directory) -> String {
        guard let text = Syscalls.readText("\(dir)/\(name)", limit: 1 << 20) else {
            Issue.record("cannot read fixture \(name)")
            return ""
        }
        return text
    }

    static func json(_ name: String, in dir: String = directory) throws -> TestJSON {
        try TestJSON.parse(text(name, in: dir))
    }

    // The objects a real `daxctl list` / `ndctl list` described, as daxmap's
    // value types (numbers from the fixture files; resources from sysfs).
    static let devdaxDevice = DaxDeviceInfo(
        name: "dax0.0", regionID: 0, major: 252, minor: 0, size: 1_054_867_456, align: 2_097_152,
        resource: 0x1_0120_0000, targetNode: 0, isEnabled: true, mode: .devdax)
    static let daxRegion = DaxRegion(
        id: 0, path: "/sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0",
        size: 1_054_867_456, align: 2_097_152,
        devices: [
            devdaxDevice,
            // An idle seed: listed only with includeIdle.
            DaxDeviceInfo(
                name: "dax0.1", regionID: 0, major: 252, minor: 1, size: 0, align: nil, resource: nil,
                targetNode: 0, isEnabled: false, mode: .devdax),
        ])
    static let devdaxNamespace = NvdimmNamespace(
        name: "namespace0.0", mode: .devdax, size: 1_054_867_456, uuid: "fe2a62de-c344-4aad-b705-7eb0e5ae59f7",
        blockDevice: nil, charDevice: "dax0.0", align: 2_097_152, isActive: true, badblocks: [])
    static let fsdaxNamespace = NvdimmNamespace(
        name: "namespace0.0", mode: .fsdax, size: 1_054_867_456, uuid: "b735d370-1228-4d2a-94cd-c450bda60f4d",
        blockDevice: "pmem0", charDevice: nil, align: 2_097_152, isActive: true, badblocks: [])
    static func region(_ namespaces: [NvdimmNamespace], badblocks: [Badblock] = []) -> NvdimmRegion {
        NvdimmRegion(
            name: "region0", size: 1_073_741_824, availableSize: 0, align: 16_777_216, type: "pmem",
            resource: 0x1_0000_0000, persistenceDomain: .unknown, isEnabled: true, badblocks: badblocks,
            namespaces: namespaces)
    }
    static let dimm = NvdimmDimm(name: "nmem0", uniqueID: "8680-56341200", handle: 1, physicalID: 0, dirtyShutdown: .unsupported)
    static func bus(_ namespaces: [NvdimmNamespace]) -> NvdimmBus {
        NvdimmBus(provider: "ACPI.NFIT", name: "ndbus0", dimms: [dimm], regions: [region(namespaces)])
    }
}

/// Just enough JSON to read the fixtures: keeps key order, keeps numbers as text.
indirect enum TestJSON: Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([TestJSON])
    case object([Pair])

    struct Pair: Equatable {
        var key: String
        var value: TestJSON
    }

    struct ParseError: Error { var message: String }

    init(_ v: JSONValue) {
        switch v {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .number(String(i))
        case .uint(let u): self = .number(String(u))
        case .double(let d): self = .number(String(d))
        case .string(let s): self = .string(s)
        case .array(let a): self = .array(a.map(TestJSON.init))
        case .object(let f): self = .object(f.map { Pair(key: $0.0, value: TestJSON($0.1)) })
        }
    }

    subscript(key: String) -> TestJSON? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first { $0.key == key }?.value
    }

    var keys: [String] {
        guard case .object(let pairs) = self else { return [] }
        return pairs.map(\.key)
    }

    /// A copy without these keys, at every depth.
    func dropping(_ drop: Set<String>) -> TestJSON {
        switch self {
        case .array(let a): return .array(a.map { $0.dropping(drop) })
        case .object(let p):
            return .object(p.filter { !drop.contains($0.key) }.map { Pair(key: $0.key, value: $0.value.dropping(drop)) })
        default: return self
        }
    }

    var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return String(b)
        case .number(let n): return n
        case .string(let s): return "\"\(s)\""
        case .array(let a): return "[" + a.map(\.description).joined(separator: ",") + "]"
        case .object(let p): return "{" + p.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}"
        }
    }

    static func parse(_ text: String) throws -> TestJSON {
        var p = Parser(bytes: Array(text.utf8))
        let v = try p.value()
        p.skipSpace()
        guard p.i == p.bytes.count else { throw ParseError(message: "trailing data at \(p.i)") }
        return v
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0

        mutating func skipSpace() {
            while i < bytes.count, [0x20, 0x0a, 0x0d, 0x09].contains(bytes[i]) { i += 1 }
        }

        mutating func expect(_ c: UInt8) throws {
            skipSpace()
            guard i < bytes.count, bytes[i] == c else { throw ParseError(message: "expected \(Character(Unicode.Scalar(c))) at \(i)") }
            i += 1
        }

        mutating func value() throws -> TestJSON {
            skipSpace()
            guard i < bytes.count else { throw ParseError(message: "unexpected end") }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var pairs: [Pair] = []
                skipSpace()
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
                while true {
                    skipSpace()
                    guard case .string(let key) = try value() else { throw ParseError(message: "key at \(i)") }
                    try expect(UInt8(ascii: ":"))
                    pairs.append(Pair(key: key, value: try value()))
                    skipSpace()
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    try expect(UInt8(ascii: "}"))
                    return .object(pairs)
                }
            case UInt8(ascii: "["):
                i += 1
                var items: [TestJSON] = []
                skipSpace()
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                while true {
                    items.append(try value())
                    skipSpace()
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    try expect(UInt8(ascii: "]"))
                    return .array(items)
                }
            case UInt8(ascii: "\""):
                i += 1
                var out: [UInt8] = []
                while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                    if bytes[i] == UInt8(ascii: "\\") {
                        i += 1
                        switch bytes[i] {
                        case UInt8(ascii: "n"): out.append(0x0a)
                        case UInt8(ascii: "t"): out.append(0x09)
                        case UInt8(ascii: "r"): out.append(0x0d)
                        case UInt8(ascii: "u"): throw ParseError(message: "\\u escapes not needed by the fixtures")
                        default: out.append(bytes[i])  // \" \\ \/
                        }
                    } else {
                        out.append(bytes[i])
                    }
                    i += 1
                }
                try expect(UInt8(ascii: "\""))
                return .string(String(decoding: out, as: UTF8.self))
            case UInt8(ascii: "t"): i += 4; return .bool(true)
            case UInt8(ascii: "f"): i += 5; return .bool(false)
            case UInt8(ascii: "n"): i += 4; return .null
            default:
                let start = i
                while i < bytes.count, bytes[i] == UInt8(ascii: "-") || (bytes[i] >= 0x30 && bytes[i] <= 0x39) || bytes[i] == UInt8(ascii: ".") {
                    i += 1
                }
                guard i > start else { throw ParseError(message: "unexpected byte at \(i)") }
                return .number(String(decoding: bytes[start..<i], as: UTF8.self))
            }
        }
    }
}

@Suite struct DiscoveryListingTests {
    @Test func daxRegionMatchesDaxctlListRDExactly() throws {
        let fixture = try Fixture.json("daxctl-list-RD-devdax.json")
        let ours = TestJSON(.array([ListingValue.daxRegion(Fixture.daxRegion)]))
        #expect(ours == fixture, "ours: \(ours)\nfixture: \(fixture)")
    }

    @Test func idleSeedDeviceIsListedOnlyOnRequest() throws {
        let idle = ListingValue.daxRegion(Fixture.daxRegion, includeIdle: true)
        guard case .array(let devices)? = idle["devices"] else {
            Issue.record("no devices")
            return
        }
        #expect(devices.map { $0["chardev"] } == [.string("dax0.0"), .string("dax0.1")])
        #expect(devices[1]["state"] == .string("disabled"))
        #expect(devices[1]["align"] == nil)
    }

    @Test func daxctlRegionPathInCreateNamespaceOutputHasTheSameDevice() throws {
        // `ndctl create-namespace -m devdax` embeds the daxctl region without its path.
        let fixture = try Fixture.json("ndctl-create-namespace-devdax.json")
        let ours = TestJSON(ListingValue.daxRegion(Fixture.daxRegion)).dropping(["path"])
        #expect(ours == fixture["daxregion"])
    }

    @Test func nvdimmRegionMatchesNdctlListRN() throws {
        let fixture = try Fixture.json("ndctl-list-media-errors-devdax.json")
        guard case .array(let regions)? = fixture["regions"], regions.count == 1 else {
            Issue.record("fixture has no single region")
            return
        }
        // The keys daxmap does not produce: the dimm-range extent and the pfn map location.
        let expected = regions[0].dropping(["max_available_extent", "map"])
        let ours = TestJSON(ListingValue.nvdimmRegion(Fixture.region([Fixture.devdaxNamespace])))
        #expect(ours == expected, "ours: \(ours)\nfixture: \(expected)")
    }

    @Test func fsdaxNamespaceMatchesNdctlCreateNamespace() throws {
        let fixture = try Fixture.json("ndctl-create-namespace-fsdax.json").dropping(["map", "sector_size"])
        let ours = TestJSON(ListingValue.nvdimmNamespace(Fixture.fsdaxNamespace))
        #expect(ours == fixture, "ours: \(ours)\nfixture: \(fixture)")
    }

    @Test func busAndDimmKeysMatchNdctlListBRND() throws {
        for name in ["ndctl-list-BRND-devdax.json", "ndctl-list-BRND-fsdax.json"] {
            let fixture = try Fixture.json(name)
            let ns = name.contains("fsdax") ? Fixture.fsdaxNamespace : Fixture.devdaxNamespace
            let ours = TestJSON(ListingValue.nvdimmBus(Fixture.bus([ns])))
            #expect(ours.keys == fixture.keys)
            #expect(ours["provider"] == fixture["provider"])
            #expect(ours["dev"] == fixture["dev"])
            guard case .array(let dimms)? = ours["dimms"], case .array(let fixtureDimms)? = fixture["dimms"] else {
                Issue.record("no dimms")
                continue
            }
            // `-u` prints handle and phys_id in hex; daxmap prints raw numbers.
            #expect(dimms.map(\.keys) == fixtureDimms.map(\.keys))
            #expect(dimms.map { $0["id"] } == fixtureDimms.map { $0["id"] })
            guard case .array(let regions)? = ours["regions"], case .array(let fixtureRegions)? = fixture["regions"],
                case .array(let nss)? = regions.first?["namespaces"],
                case .array(let fixtureNss)? = fixtureRegions.first?["namespaces"]
            else {
                Issue.record("no namespaces")
                continue
            }
            // Sizes are human-readable in this fixture; compare the rest.
            let drop: Set<String> = ["size", "map", "sector_size"]
            #expect(nss.map { $0.dropping(drop) } == fixtureNss.map { $0.dropping(drop) })
        }
    }

    @Test func dirtyShutdownAppearsOnlyWhenCounted() {
        var dimm = Fixture.dimm
        #expect(ListingValue.nvdimmDimm(dimm)["dirty_shutdown"] == nil)
        dimm.dirtyShutdown = .count(3)
        #expect(ListingValue.nvdimmDimm(dimm)["dirty_shutdown"] == .int(3))
        dimm.dirtyShutdown = .failed(.ioError)
        #expect(ListingValue.nvdimmDimm(dimm)["dirty_shutdown"] == nil)
    }

    @Test func badblockCountIsSectorsAndOmittedWhenZero() {
        let bbs = [Badblock(sectorOffset: 8, sectorCount: 8), Badblock(sectorOffset: 100, sectorCount: 1)]
        #expect(ListingValue.nvdimmRegion(Fixture.region([]))["badblock_count"] == nil)
        #expect(ListingValue.nvdimmRegion(Fixture.region([], badblocks: bbs))["badblock_count"] == .uint(9))
        var ns = Fixture.devdaxNamespace
        ns.badblocks = bbs
        #expect(ListingValue.nvdimmNamespace(ns)["badblock_count"] == .uint(9))
    }

    @Test func inactiveNamespacesAndDisabledRegionsAreIdle() {
        var ns = Fixture.devdaxNamespace
        ns.isActive = false
        let region = Fixture.region([ns])
        #expect(ListingValue.nvdimmRegion(region)["namespaces"] == nil)
        #expect(ListingValue.nvdimmRegion(region, includeIdle: true)["namespaces"] != nil)
        var bus = Fixture.bus([Fixture.devdaxNamespace])
        bus.regions[0].isEnabled = false
        #expect(ListingValue.nvdimmBus(bus)["regions"] == nil)
        guard case .array(let regions)? = ListingValue.nvdimmBus(bus, includeIdle: true)["regions"] else {
            Issue.record("disabled region not listed with includeIdle")
            return
        }
        #expect(regions.map { $0["state"] } == [.string("disabled")])
    }

    @Test func emptyMachineListsAnEmptyArray() {
        #expect(ListingValue.listing(daxRegions: [], nvdimmBuses: []) == .array([]))
    }

    @Test func topLevelListsDaxRegionsThenBuses() {
        let listing = ListingValue.listing(daxRegions: [Fixture.daxRegion], nvdimmBuses: [Fixture.bus([Fixture.devdaxNamespace])])
        guard case .array(let items) = listing else {
            Issue.record("not an array")
            return
        }
        #expect(items.count == 2)
        #expect(items.first?["id"] == .int(0))
        #expect(items.last?["provider"] == .string("ACPI.NFIT"))
    }
}
