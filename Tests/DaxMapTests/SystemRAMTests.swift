import Glibc
import Testing
@testable import DaxMap

/// kmem (system-ram mode) and hmem (soft-reserved memory) devices, against real captures
/// of a 6.12 qemu guest: the NVDIMM's devdax reconfigured by daxctl, and dax_hmem's device
/// of a soft-reserved range (see the fixtures' README).
enum SystemRAMFixture {
    static let hmemDirectory: String = {
        let file = "\(#filePath)"
        return String(file[..<file.lastIndex(of: "/")!]) + "/Fixtures/kernel-6.12-qemu-hmem"
    }()

    static func hmemJSON(_ name: String) throws -> TestJSON {
        guard let text = Syscalls.readText("\(hmemDirectory)/\(name)", limit: 1 << 20) else {
            Issue.record("cannot read fixture \(name)")
            return .null
        }
        return try TestJSON.parse(text)
    }

    /// The NVDIMM's dax0.0 after `daxctl reconfigure-device --mode=system-ram` (onlined, movable).
    static let nvdimmOnline: DaxDeviceInfo = {
        var d = Fixture.devdaxDevice
        d.mode = .systemRAM
        d.systemRAM = DaxSystemRAM(onlineBlocks: 7, totalBlocks: 7, movable: true, blockSize: 128 << 20)
        return d
    }()

    /// The same after `daxctl offline-memory` (or `--no-online`): daxctl prints no `movable`.
    static let nvdimmOffline: DaxDeviceInfo = {
        var d = nvdimmOnline
        d.systemRAM = DaxSystemRAM(onlineBlocks: 0, totalBlocks: 7, movable: nil, blockSize: 128 << 20)
        return d
    }()

    static func hmemRegion(_ device: DaxDeviceInfo) -> DaxRegion {
        DaxRegion(id: 0, path: "/sys/devices/platform/hmem.0", size: 536_870_912, align: 2_097_152, devices: [device])
    }

    /// dax_hmem's dax0.0 (512 MiB at 1 GiB), taken by kmem at boot and onlined (auto policy: not movable).
    static let hmemSystemRAM = DaxDeviceInfo(
        name: "dax0.0", regionID: 0, major: 252, minor: 0, size: 536_870_912, align: 2_097_152,
        resource: 0x4000_0000, targetNode: 0, isEnabled: true, mode: .systemRAM,
        systemRAM: DaxSystemRAM(onlineBlocks: 4, totalBlocks: 4, movable: false, blockSize: 128 << 20))
}

@Suite struct SystemRAMListingTests {
    @Test func systemRAMDeviceMatchesDaxctlList() throws {
        let region = DaxRegion(id: 0, path: Fixture.daxRegion.path, size: Fixture.daxRegion.size,
                               align: Fixture.daxRegion.align, devices: [SystemRAMFixture.nvdimmOnline])
        let fixture = try Fixture.json("daxctl-list-RD-system-ram.json")
        let ours = TestJSON(.array([ListingValue.daxRegion(region)]))
        #expect(ours == fixture, "ours: \(ours)\nfixture: \(fixture)")
    }

    @Test func offlineSystemRAMHasNoMovableKey() throws {
        let fixture = try Fixture.json("daxctl-list-D-system-ram-offline.json")
        let ours = TestJSON(.array([ListingValue.daxDevice(SystemRAMFixture.nvdimmOffline)]))
        #expect(ours == fixture, "ours: \(ours)\nfixture: \(fixture)")
        #expect(SystemRAMFixture.nvdimmOffline.systemRAM?.onlineState == "offline")
        #expect(SystemRAMFixture.nvdimmOnline.systemRAM?.onlineState == "online")
        #expect(DaxSystemRAM(onlineBlocks: 3, totalBlocks: 7, movable: true, blockSize: nil).onlineState == "partially online")
    }

    @Test func devdaxModeListsNoMemoryBlocks() {
        var device = SystemRAMFixture.nvdimmOnline
        device.mode = .devdax  // a stale memory snapshot is not printed outside system-ram mode
        #expect(ListingValue.daxDevice(device).keys == ["chardev", "size", "target_node", "align", "mode"])
    }

    @Test func hmemRegionMatchesDaxctlListInBothModes() throws {
        let sysram = TestJSON(.array([ListingValue.daxRegion(SystemRAMFixture.hmemRegion(SystemRAMFixture.hmemSystemRAM))]))
        let sysramFixture = try SystemRAMFixture.hmemJSON("daxctl-list-RD-system-ram.json")
        #expect(sysram == sysramFixture, "ours: \(sysram)\nfixture: \(sysramFixture)")
        var devdax = SystemRAMFixture.hmemSystemRAM
        devdax.mode = .devdax
        devdax.systemRAM = nil
        let ours = TestJSON(.array([ListingValue.daxRegion(SystemRAMFixture.hmemRegion(devdax))]))
        let fixture = try SystemRAMFixture.hmemJSON("daxctl-list-RD-devdax.json")
        #expect(ours == fixture, "ours: \(ours)\nfixture: \(fixture)")
    }

    @Test func memoryBlockFieldsHaveDaxctlTypes() throws {
        let region = SystemRAMFixture.hmemRegion(SystemRAMFixture.hmemSystemRAM)
        let item = ListingValue.daxRegion(region)
        guard case .array(let devices)? = item["devices"] else {
            Issue.record("no devices")
            return
        }
        #expect(devices[0]["online_memblocks"] == .int(4) && devices[0]["movable"] == .bool(false))
    }
}

@Suite struct SystemRAMOpeningTests {
    @Test func refusalNamesTheNodeTheBlocksAndTheWayBack() {
        let e = DaxDevice.systemRAMError("/dev/dax0.0", SystemRAMFixture.nvdimmOnline, name: "dax0.0")
        #expect(e.code == .systemRAM && e.operation == "open" && e.path == "/dev/dax0.0")
        #expect(e.message.hasPrefix("dax0.0 is in system-ram mode: kmem hot-plugged its memory as system RAM (NUMA node 0, 7 of 7 memory blocks online, movable)"))
        #expect(e.message.contains("use the memory through NUMA node 0 (numactl --membind=0, mbind)"))
        #expect(e.message.hasSuffix("daxctl offline-memory dax0.0, then daxctl reconfigure-device --mode=devdax dax0.0"))
        #expect(e.description.hasPrefix("open: /dev/dax0.0: dax0.0 is in system-ram mode"))
    }

    @Test func offlineMemoryNeedsNoOffliningStep() {
        let e = DaxDevice.systemRAMError("/dev/dax0.0", SystemRAMFixture.nvdimmOffline, name: "dax0.0")
        #expect(e.message.contains("(NUMA node 0, 0 of 7 memory blocks online)"))
        #expect(e.message.hasSuffix("make it devdax again: daxctl reconfigure-device --mode=devdax dax0.0"))
        #expect(!e.message.contains("offline-memory"))
    }

    @Test func withoutLibdaxctlItStillSaysWhatItIs() {
        // Bound to kmem by sysfs, unseen by libdaxctl: no node or blocks to name.
        let e = DaxDevice.systemRAMError("/dev/dax1.0", nil, name: "dax1.0")
        #expect(e.code == .systemRAM)
        #expect(e.message == "dax1.0 is in system-ram mode: kmem hot-plugged its memory as system RAM, so there is no device-dax memory to map; use the memory through its NUMA node, or make it devdax again: daxctl offline-memory dax1.0, then daxctl reconfigure-device --mode=devdax dax1.0")
    }

    @Test func deviceAtPathIsFoundByDeviceNumber() throws {
        #expect(DaxDiscovery.daxDevice(atPath: "/dev/null") == nil)        // a character device, not dax
        #expect(DaxDiscovery.daxDevice(atPath: "/nonexistent/dax9.9") == nil)
        #expect(DaxDiscovery.daxDevice(atPath: "/tmp") == nil)
        for d in try DaxDiscovery.daxDevices() {
            guard case .success = Syscalls.status(ofPath: d.path) else { continue }  // no node (containers)
            #expect(DaxDiscovery.daxDevice(atPath: d.path) == d)
        }
    }

    @Test func kmemIsNoDeviceDaxDriver() {
        #expect(Sysfs.servesDeviceDax(driver: "/sys/bus/dax/drivers/device_dax"))
        #expect(Sysfs.servesDeviceDax(driver: "../../../../bus/dax/drivers/device_dax"))
        #expect(!Sysfs.servesDeviceDax(driver: "../../../../bus/dax/drivers/kmem"))
        #expect(!Sysfs.servesDeviceDax(driver: nil))
    }
}

@Suite struct KmemRemovalTests {
    func verdicts(_ section: UEventFixtures.Section) throws -> [DeviceTransition?] {
        let classifier = RemovalClassifier(identity: FixtureIdentities.dax00)
        return try section.messages.map { classifier.classify(try UEvent(kernelMessage: $0)) }
    }

    func section(_ mark: String) -> UEventFixtures.Section {
        UEventFixtures.sections("uevents-kmem.txt").first { $0.mark == mark } ?? .init(mark: mark, messages: [])
    }

    /// reconfigure-device --mode=system-ram: unbind device_dax, add memory blocks, bind kmem,
    /// online them. The unbind is the removal; the kmem bind must not read as a return.
    @Test(arguments: ["reconfigure-system-ram-no-f", "reconfigure-system-ram-f-policy-online_movable"])
    func toSystemRAMIsARemovalAndNeverAReturn(mark: String) throws {
        let v = try verdicts(section(mark))
        #expect(v.count >= 9)  // unbind, 7 memory blocks added, kmem bind (online events follow on one path)
        #expect(v.first == .removed)
        #expect(!v.contains(.returned))
        let kmemBind = try section(mark).messages.map { try UEvent(kernelMessage: $0) }.firstIndex { $0.driver == "kmem" }
        #expect(kmemBind.map { v[$0] } == .removed)
        #expect(v.filter { $0 != nil }.count == 2)  // memory blocks are not the device
    }

    @Test func refusedReconfigureSendsNothing() {
        #expect(section("reconfigure-system-ram-policy-online_movable-no-f").messages.isEmpty)
    }

    @Test func offliningIsNotAboutTheDevice() throws {
        let v = try verdicts(section("offline-memory"))
        #expect(v.count == 7 && v.allSatisfy { $0 == nil })
    }

    /// Back to devdax: memory blocks removed, unbind from kmem, bind device_dax: back.
    @Test func backToDevdaxIsAReturn() throws {
        let v = try verdicts(section("reconfigure-devdax"))
        #expect(v.last == .returned)
        #expect(v.compactMap { $0 } == [.removed, .returned])
    }

    @Test func kmemBindOfAnotherDeviceIsIgnored() throws {
        let other = FixtureIdentities.unrelated[0]
        let messages = section("reconfigure-system-ram-no-f").messages
        #expect(try messages.allSatisfy { RemovalClassifier(identity: other).classify(try UEvent(kernelMessage: $0)) == nil })
    }

    /// Where netlink is refused: a driver link that now leads to kmem is no device-dax.
    @Test func pollerSeesKmemTakeTheDevice() throws {
        let sys = try FakeSysfsTree()
        let dax00 = SysfsPollerTests.dax00
        sys.mkdirs(dax00)
        sys.symlink("../../../../../../../bus/dax/drivers/device_dax", at: dax00 + "/driver")
        let poller = SysfsPoller(identity: DaxDeviceIdentity(devpath: dax00), sysfsRoot: sys.path)
        #expect(poller.state == .bound(devpath: dax00))
        // unbind + bind kmem between two looks: one look sees only the kmem link.
        sys.remove(dax00 + "/driver")
        sys.symlink("../../../../../../../bus/dax/drivers/kmem", at: dax00 + "/driver")
        #expect(poller.check() == .removed)
        #expect(poller.check() == nil)
        sys.remove(dax00 + "/driver")
        sys.symlink("../../../../../../../bus/dax/drivers/device_dax", at: dax00 + "/driver")
        #expect(poller.check() == .returned)
    }
}
