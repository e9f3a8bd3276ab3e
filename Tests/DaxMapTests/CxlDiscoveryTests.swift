import Glibc
import Testing
@testable import DaxMap

/// The fixture files captured from a 6.12 kernel with qemu 7.2's CXL type-3 device
/// (Fixtures/kernel-6.12-qemu-cxl/README.md), and the objects they describe as daxmap's types.
enum CxlFixture {
    static let directory = Fixture.directory("kernel-6.12-qemu-cxl")

    static func json(_ name: String) throws -> TestJSON {
        try Fixture.json(name, in: directory)
    }

    static let windowStart: UInt64 = 0x3_9000_0000  // sysfs region0/resource, "CXL Window 0" in /proc/iomem
    static let memdev = CxlMemdev(name: "mem0", pmemSize: 268_435_456, ramSize: nil, serial: 0x1234, numaNode: nil, host: "0000:0d:00.0")
    static let decoders = [
        CxlDecoder(
            name: "decoder0.0", kind: .root, resource: windowStart, size: 4_294_967_296, interleaveWays: 1, region: nil,
            dpaResource: nil, dpaSize: nil, mode: nil, isPmemCapable: true, isVolatileCapable: true),
        CxlDecoder(
            name: "decoder1.0", kind: .port, resource: windowStart, size: 268_435_456, interleaveWays: 1, region: "region0",
            dpaResource: nil, dpaSize: nil, mode: nil, isPmemCapable: false, isVolatileCapable: false),
        CxlDecoder(
            name: "decoder2.0", kind: .endpoint, resource: windowStart, size: 268_435_456, interleaveWays: 1,
            region: "region0", dpaResource: 0, dpaSize: 268_435_456, mode: "pmem", isPmemCapable: false,
            isVolatileCapable: false),
    ]
    static let region = CxlRegion(
        name: "region0", rootDecoder: "decoder0.0", resource: windowStart, size: 268_435_456, type: "pmem",
        interleaveWays: 1, interleaveGranularity: 256, isCommitted: true, isEnabled: true,
        mappings: [CxlRegion.Mapping(position: 0, memdev: "mem0", decoder: "decoder2.0")])
    static let topology = CxlTopology(memdevs: [memdev], decoders: decoders, regions: [region])

    // What daxctl and ndctl listed for the same machine (daxctl-list-RD.json,
    // ndctl-list-BRND.json; resources from sysfs-attrs.txt).
    static let daxDevice = DaxDeviceInfo(
        name: "dax0.0", regionID: 0, major: 252, minor: 0, size: 262_144_000, align: 2_097_152,
        resource: 0x3_9060_0000, targetNode: 1, isEnabled: true, mode: .devdax)
    static let daxRegion = DaxRegion(
        id: 0, path: "/sys/devices/platform/ACPI0017:00/root0/nvdimm-bridge0/ndbus0/region0/dax0.0",
        size: 262_144_000, align: 2_097_152, devices: [daxDevice])
    static let ndRegion = NvdimmRegion(
        name: "region0", size: 268_435_456, availableSize: 0, align: 16_777_216, type: "pmem", resource: windowStart,
        persistenceDomain: .memoryController, isEnabled: true, badblocks: [],
        namespaces: [NvdimmNamespace(
            name: "namespace0.0", mode: .devdax, size: 262_144_000, uuid: "7d95085f-5030-497e-b201-3c410e739d8a",
            blockDevice: nil, charDevice: "dax0.0", align: 2_097_152, isActive: true, badblocks: [])])
    static let bus = NvdimmBus(
        provider: "CXL", name: "ndbus0",
        dimms: [NvdimmDimm(name: "nmem0", uniqueID: "4660", handle: nil, physicalID: nil, dirtyShutdown: .unsupported)],
        regions: [ndRegion])
}

@Suite struct CxlListingTests {
    @Test func memdevMatchesCxlListM() throws {
        let fixture = try CxlFixture.json("cxl-list-M.json")
        #expect(TestJSON(.array([ListingValue.cxlMemdev(CxlFixture.memdev)])) == fixture)
    }

    @Test func decodersMatchCxlListD() throws {
        // cxl list -D: [{"root decoders": [...]}, {"port decoders": [...]}, {"endpoint decoders": [...]}].
        guard case .array(let groups) = try CxlFixture.json("cxl-list-D.json") else {
            Issue.record("cxl-list-D.json is not an array")
            return
        }
        // Keys daxmap does not produce: free space, accelerator capability, target count.
        let notOurs: Set<String> = ["max_available_extent", "accelmem_capable", "nr_targets"]
        let ours = try #require(ListingValue.cxl(CxlFixture.topology))
        for group in groups {
            let key = try #require(group.keys.first)
            guard let expected = group[key], let got = ours["cxl"]?[key] else {
                Issue.record("no \(key) in ours")
                continue
            }
            #expect(TestJSON(got) == expected.dropping(notOurs), "\(key)")
        }
        #expect(groups.map { $0.keys.first } == ["root decoders", "port decoders", "endpoint decoders"])
    }

    @Test func regionMatchesCxlListRTAndCreateRegion() throws {
        // 76.1's cxl list prints no region `type`; newer ones do.
        let ours = TestJSON(ListingValue.cxlRegion(CxlFixture.region)).dropping(["type"])
        #expect(TestJSON.array([ours]) == (try CxlFixture.json("cxl-list-RT.json")))
        #expect(ours == (try CxlFixture.json("cxl-create-region.json")))
        #expect(ListingValue.cxlRegion(CxlFixture.region)["type"] == .string("pmem"))
    }

    @Test func regionNamesItsNdRegionAndDaxDevices() throws {
        let listing = try #require(ListingValue.cxl(
            CxlFixture.topology, daxRegions: [CxlFixture.daxRegion], nvdimmBuses: [CxlFixture.bus]))
        guard case .array(let regions)? = listing["cxl"]?["regions"], regions.count == 1 else {
            Issue.record("no single region: \(listing)")
            return
        }
        #expect(regions[0]["nd_region"] == .string("region0"))
        #expect(regions[0]["chardevs"] == .array([.string("dax0.0")]))
        // An nd region and a device outside the CXL window are not its.
        var elsewhere = CxlFixture.ndRegion
        elsewhere.resource = 0x1_0000_0000
        var device = CxlFixture.daxDevice
        device.resource = 0x1_0120_0000
        let other = try #require(ListingValue.cxl(
            CxlFixture.topology,
            daxRegions: [DaxRegion(id: 0, path: "", size: nil, align: nil, devices: [device])],
            nvdimmBuses: [NvdimmBus(provider: "ACPI.NFIT", name: "ndbus1", dimms: [], regions: [elsewhere])]))
        guard case .array(let r)? = other["cxl"]?["regions"] else {
            Issue.record("no regions")
            return
        }
        #expect(r[0]["nd_region"] == nil && r[0]["chardevs"] == nil)
    }

    @Test func daxDeviceNamesItsCxlRegionAndMemdevs() throws {
        let listing = ListingValue.listing(
            daxRegions: [CxlFixture.daxRegion], nvdimmBuses: [CxlFixture.bus], cxl: CxlFixture.topology)
        guard case .array(let items) = listing, items.count == 3 else {
            Issue.record("expected a DAX region, a bus and the cxl object: \(listing)")
            return
        }
        guard case .array(let devices)? = items[0]["devices"] else {
            Issue.record("no devices")
            return
        }
        #expect(devices[0]["cxl_region"] == .string("region0"))
        #expect(devices[0]["memdevs"] == .array([.string("mem0")]))
        // Without the added keys the region is what daxctl printed.
        let daxctl = try CxlFixture.json("daxctl-list-RD.json")
        #expect(TestJSON(.array([items[0]])).dropping(["cxl_region", "memdevs"]) == daxctl)
        #expect(items[1]["provider"] == .string("CXL"))
        #expect(items[2]["cxl"] != nil)
    }

    @Test func topologyFindsTheRegionByAddress() {
        let t = CxlFixture.topology
        #expect(t.region(forDaxDevice: CxlFixture.daxDevice)?.name == "region0")
        #expect(t.region(forNvdimmRegion: CxlFixture.ndRegion)?.name == "region0")
        var device = CxlFixture.daxDevice
        device.resource = CxlFixture.windowStart + 268_435_456  // one past the end
        #expect(t.region(forDaxDevice: device) == nil)
        device.resource = nil  // not root: no address, no answer
        #expect(t.region(forDaxDevice: device) == nil)
        var unsized = CxlFixture.region
        unsized.size = nil
        #expect(!unsized.contains(address: CxlFixture.windowStart))
    }

    @Test func disabledRegionsAreIdleAndDecodeStateIsReset() throws {
        var region = CxlFixture.region
        region.isEnabled = false
        region.isCommitted = false
        let t = CxlTopology(memdevs: [CxlFixture.memdev], regions: [region])
        #expect(ListingValue.cxl(t)?["cxl"]?["regions"] == nil)
        guard case .array(let r)? = ListingValue.cxl(t, includeIdle: true)?["cxl"]?["regions"] else {
            Issue.record("disabled region not listed with includeIdle")
            return
        }
        #expect(r[0]["state"] == .string("disabled"))
        #expect(r[0]["decode_state"] == .string("reset"))
    }

    @Test func noCxlListsNothing() {
        #expect(ListingValue.cxl(CxlTopology()) == nil)
        #expect(ListingValue.listing(daxRegions: [], nvdimmBuses: [], cxl: CxlTopology()) == .array([]))
        // A memdev alone (no region yet) is still listed.
        #expect(ListingValue.cxl(CxlTopology(memdevs: [CxlFixture.memdev]))?["cxl"]?.keys == ["memdevs"])
    }
}

@Suite struct CxlHostTests {
    @Test func topologyMatchesTheCxlBus() throws {
        let t = try DaxDiscovery.cxlTopology()
        let bus = entries("/sys/bus/cxl/devices")
        #expect(Set(t.memdevs.map(\.name)) == bus.filter { $0.hasPrefix("mem") })
        #expect(Set(t.decoders.map(\.name)) == bus.filter { $0.hasPrefix("decoder") })
        #expect(Set(t.regions.map(\.name)) == bus.filter { $0.hasPrefix("region") })
        // A machine without CXL: nothing, and no error.
        if bus.isEmpty { #expect(t.isEmpty) }
    }

    @Test func anEmulatedDeviceHasNoCxlRegion() throws {
        let path = "/tmp/daxmap-cxl-test-\(getpid())"
        defer { unlink(path) }
        let device = try DaxDevice.createEmulated(at: path, size: 1 << 20)
        defer { device.close() }
        #expect(device.cxlRegion == nil)
    }
}

/// `daxmap list` on this host: CXL appears exactly when the kernel has a CXL bus with devices.
@Suite struct CxlListCommandTests {
    @Test func listShowsCxlOnlyWhereThereIsCxl() throws {
        let cxlOnHost = !entries("/sys/bus/cxl/devices").isEmpty
        let json = runProgram([buildDirectory + "/daxmap", "list", "--json"])
        #expect(json.status == 0, "stderr: \(json.stderr)")
        #expect(json.stderr.isEmpty, "a machine without CXL must not complain: \(json.stderr)")
        let listing = try TestJSON.parse(json.stdout)
        guard case .array(let items) = listing else {
            Issue.record("not an array: \(json.stdout)")
            return
        }
        #expect(items.contains { $0["cxl"] != nil } == cxlOnHost, "\(json.stdout)")
        let text = runProgram([buildDirectory + "/daxmap", "list"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("CXL\n") == cxlOnHost, "\(text.stdout)")
    }
}
