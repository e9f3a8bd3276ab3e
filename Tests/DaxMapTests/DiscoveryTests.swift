import Glibc
import Testing
@testable import DaxMap

/// Names in a directory, or [] when it does not exist (like an absent /sys/bus/dax).
func entries(_ path: String) -> Set<String> {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: Set<String> = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if name != "." && name != ".." { names.insert(name) }
    }
    return names
}

@Suite struct DiscoveryHostTests {
    @Test func daxDevicesMatchTheDaxBus() throws {
        // libdaxctl enumerates the dax bus (or the older dax class); on this
        // host's kernel every device-dax instance is under /sys/bus/dax/devices.
        let devices = try DaxDiscovery.daxDevices()
        let onBus = entries("/sys/bus/dax/devices").union(entries("/sys/class/dax"))
        #expect(Set(devices.map(\.name)) == onBus)
        for d in devices {
            #expect(d.path == "/dev/" + d.name)
        }
    }

    @Test func nvdimmObjectsMatchTheNdBus() throws {
        let buses = try DaxDiscovery.nvdimmBuses()
        let nd = entries("/sys/bus/nd/devices")
        #expect(Set(buses.map(\.name)) == nd.filter { $0.hasPrefix("ndbus") })
        #expect(Set(buses.flatMap(\.regions).map(\.name)) == nd.filter { $0.hasPrefix("region") })
        #expect(Set(buses.flatMap(\.dimms).map(\.name)) == nd.filter { $0.hasPrefix("nmem") })
    }

    /// Descriptors of the kind libdaxctl/libndctl open: sysfs, module indexes, udev.
    /// (Other suites run in parallel in this process and open files, sockets and
    /// eventfds of their own, so the whole table is not a fair measure.)
    private func discoveryDescriptors() -> Int {
        entries("/proc/self/fd").filter { fd in
            var buffer = [CChar](repeating: 0, count: 4096)
            let n = readlink("/proc/self/fd/" + fd, &buffer, buffer.count - 1)
            guard n > 0 else { return false }
            let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return ["/sys/", "/lib/modules/", "/usr/lib/modules/", "/run/udev/", "/etc/ndctl"].contains { target.hasPrefix($0) }
        }.count
    }

    @Test func discoveryIsRepeatableAndLeavesNothingOpen() throws {
        let before = discoveryDescriptors()
        for _ in 0..<20 {
            _ = try DaxDiscovery.daxRegions()
            _ = try DaxDiscovery.nvdimmBuses()
        }
        #expect(try DaxDiscovery.daxRegions() == DaxDiscovery.daxRegions())
        // A leak per discovery would show 20 or more; a sysfs file another suite
        // has open for a moment, one or two.
        #expect(discoveryDescriptors() - before < 5)
    }

    @Test func deviceLookupOnThisHost() throws {
        let devices = try DaxDiscovery.daxDevices()
        // /dev/null (1:3) is never device-dax.
        #expect(DaxDiscovery.device(major: 1, minor: 3) == nil)
        for d in devices {
            #expect(DaxDiscovery.device(major: d.major, minor: d.minor) == d)
        }
    }
}

@Suite struct DiscoveryLookupTests {
    let region = Fixture.daxRegion
    let device = Fixture.devdaxDevice

    @Test func findsDeviceByNumber() {
        #expect(DaxDiscovery.device(major: 252, minor: 0, in: [region]) == device)
        #expect(DaxDiscovery.device(major: 252, minor: 1, in: [region])?.name == "dax0.1")
        #expect(DaxDiscovery.device(major: 252, minor: 2, in: [region]) == nil)
        #expect(DaxDiscovery.device(major: 1, minor: 0, in: [region]) == nil)
        #expect(DaxDiscovery.device(major: 252, minor: 0, in: []) == nil)
    }

    @Test func persistenceDomainComesFromTheRegionBelow() {
        var bus = Fixture.bus([Fixture.devdaxNamespace])
        #expect(DaxDiscovery.persistenceDomain(forDaxDevice: device, in: [bus]) == .unknown)
        bus.regions[0].persistenceDomain = .cpuCache
        #expect(DaxDiscovery.persistenceDomain(forDaxDevice: device, in: [bus]) == .cpuCache)
        bus.regions[0].persistenceDomain = .memoryController
        #expect(DaxDiscovery.persistenceDomain(forDaxDevice: device, in: [bus]) == .memoryController)
        // No NVDIMM under it (CXL, hmem): unknown.
        #expect(DaxDiscovery.persistenceDomain(forDaxDevice: device, in: []) == .unknown)
    }

    @Test func regionIsFoundByAddressElseByName() {
        var bus = Fixture.bus([Fixture.devdaxNamespace])
        bus.regions[0].persistenceDomain = .cpuCache
        // By name only, when addresses are unreadable (not root).
        var anonymous = device
        anonymous.resource = nil
        #expect(DaxDiscovery.nvdimmRegion(forDaxDevice: anonymous, in: [bus])?.name == "region0")
        // By address, for a second instance the namespace does not name.
        var second = device
        second.name = "dax0.1"
        second.resource = 0x1_0000_0000 + 512 << 20
        #expect(DaxDiscovery.nvdimmRegion(forDaxDevice: second, in: [bus])?.name == "region0")
        // Outside the region and not named: none.
        second.resource = 0x2_0000_0000
        #expect(DaxDiscovery.nvdimmRegion(forDaxDevice: second, in: [bus]) == nil)
    }

    @Test func badblocksBecomeDeviceOffsets() throws {
        // Region starts at 4 GiB; dax0.0 data at 0x101200000, i.e. 18 MiB in.
        let regionStart: UInt64 = 0x1_0000_0000
        let devStart: UInt64 = 0x1_0120_0000
        let inDevice = (devStart - regionStart) / 512 + 16  // 16 sectors into the device
        let beforeDevice: UInt64 = 8  // in the info block, not in the device
        let straddling = (devStart - regionStart) / 512 - 4  // 4 before, 4 inside
        var bus = Fixture.bus([Fixture.devdaxNamespace])
        bus.regions[0].badblocks = [
            Badblock(sectorOffset: beforeDevice, sectorCount: 8),
            Badblock(sectorOffset: straddling, sectorCount: 8),
            Badblock(sectorOffset: inDevice, sectorCount: 2),
        ]
        let bbs = try #require(DaxDiscovery.badblocks(forDaxDevice: device, in: [bus]))
        #expect(bbs == [Badblock(sectorOffset: 0, sectorCount: 4), Badblock(sectorOffset: 16, sectorCount: 2)])
        #expect(bbs[1].byteRange == 8192..<9216)

        // Without addresses: the namespace's own (already device-relative) list.
        var anonymous = device
        anonymous.resource = nil
        bus.regions[0].resource = nil
        bus.regions[0].namespaces[0].badblocks = [Badblock(sectorOffset: 3, sectorCount: 1)]
        #expect(DaxDiscovery.badblocks(forDaxDevice: anonymous, in: [bus]) == [Badblock(sectorOffset: 3, sectorCount: 1)])
        // No NVDIMM region: cannot be derived.
        #expect(DaxDiscovery.badblocks(forDaxDevice: device, in: []) == nil)
    }
}

@Suite struct DiscoveryValueTests {
    @Test func badblockByteRange() {
        let bb = Badblock(sectorOffset: 3, sectorCount: 2)
        #expect(bb.byteRange == 1536..<2560)
        #expect(Badblock(sectorOffset: 0, sectorCount: 0).byteRange.isEmpty)
    }

    @Test func rebaseClipsAndWidensToSectors() {
        let bbs = [Badblock(sectorOffset: 0, sectorCount: 4), Badblock(sectorOffset: 10, sectorCount: 10)]
        // Device covers origin+1024 ..< origin+6144 (sectors 2..<12).
        let out = Badblock.rebase(bbs, from: 1000, onto: 2024..<7144)
        #expect(out == [Badblock(sectorOffset: 0, sectorCount: 2), Badblock(sectorOffset: 8, sectorCount: 2)])
        // Touching at the edge is not overlapping.
        #expect(Badblock.rebase([Badblock(sectorOffset: 0, sectorCount: 2)], from: 0, onto: 1024..<2048) == [])
        // Overflowing addresses are dropped rather than wrapped.
        #expect(Badblock.rebase([Badblock(sectorOffset: 1, sectorCount: 1)], from: UInt64.max - 100, onto: 0..<1024) == [])
        // A device not sector-aligned: partial sectors round outward.
        #expect(Badblock.rebase([Badblock(sectorOffset: 1, sectorCount: 1)], from: 0, onto: 256..<4096)
            == [Badblock(sectorOffset: 0, sectorCount: 2)])
    }

    @Test func dirtyShutdownFromLibndctlReturnValues() {
        #expect(DirtyShutdownCount(returnValue: 0) == .count(0))
        #expect(DirtyShutdownCount(returnValue: 42) == .count(42))
        // libndctl's default when the bus has no dirty_shutdown attribute.
        #expect(DirtyShutdownCount(returnValue: -Int64(ENOENT)) == .unsupported)
        #expect(DirtyShutdownCount(returnValue: -Int64(EOPNOTSUPP)) == .unsupported)
        #expect(DirtyShutdownCount(returnValue: -Int64(ENOTTY)) == .unsupported)
        #expect(DirtyShutdownCount(returnValue: -Int64(ENXIO)) == .unsupported)
        #expect(DirtyShutdownCount(returnValue: -Int64(EIO)) == .failed(.ioError))
        #expect(DirtyShutdownCount(returnValue: -Int64(ENOMEM)) == .failed(.noMemory))
        guard case .failed(let e) = DirtyShutdownCount(returnValue: Int64.min) else {
            Issue.record("Int64.min is not a failure")
            return
        }
        #expect(e.rawValue == Int32.max)
        #expect(DirtyShutdownCount.count(7).value == 7)
        #expect(DirtyShutdownCount.unsupported.value == nil)
    }

    @Test func uuidFormatting() {
        let bytes: [UInt8] = [
            0xfe, 0x2a, 0x62, 0xde, 0xc3, 0x44, 0x4a, 0xad, 0xb7, 0x05, 0x7e, 0xb0, 0xe5, 0xae, 0x59, 0xf7,
        ]
        #expect(Ndctl.formatUUID(bytes) == "fe2a62de-c344-4aad-b705-7eb0e5ae59f7")
        #expect(Ndctl.formatUUID([UInt8](repeating: 0, count: 16)) == nil)
        #expect(Ndctl.formatUUID([1, 2, 3]) == nil)
    }

    @Test func enumRawValuesAreTheToolsStrings() {
        #expect(PersistenceDomain.allCases.map(\.rawValue) == ["cpu_cache", "memory_controller", "none", "unknown"])
        #expect(NamespaceMode.allCases.map(\.rawValue) == ["fsdax", "devdax", "sector", "raw", "unknown"])
        #expect(DaxDeviceMode.systemRAM.rawValue == "system-ram")
    }
}
