import Glibc
import Testing
@testable import DaxMap

/// Identities built from the real sysfs captures of the same qemu guest as the uevents.
enum FixtureIdentities {
    /// From `sysfs-dax0.0-paths.txt`: `readlink /sys/dev/char/252:0 = /sys/devices/...`.
    static let dax00: DaxDeviceIdentity = {
        let text = UEventFixtures.text("sysfs-dax0.0-paths.txt")
        let line = text.split(separator: "\n").first { $0.hasPrefix("readlink /sys/dev/char/252:0 = ") }!
        let real = String(line.split(separator: " ").last!)
        let subsystemLine = text.split(separator: "\n").first { $0.hasPrefix("subsystem = ") }!
        return DaxDeviceIdentity(
            devpath: DaxDeviceIdentity.stripRoot(real, "/sys")!,
            subsystem: String(subsystemLine.split(separator: "/").last!),
            devname: "dax0.0", kind: .character, major: 252, minor: 0)
    }()

    /// `.../ndbus0/region0`, the parent of everything in the captures.
    static let region0 = String(dax00.devpath.split(separator: "/").dropLast(2).joined(separator: "/")).withLeadingSlash

    /// From `sysfs-pmem0.txt`: pmem0's parent is `pfn0.0`, in region0.
    static let pmem0: DaxDeviceIdentity = {
        let line = UEventFixtures.text("sysfs-pmem0.txt").split(separator: "\n").first { $0.hasPrefix("pmem0 device = ") }!
        let parent = String(line.split(separator: " ").last!)
        return DaxDeviceIdentity(
            devpath: "\(region0)/\(parent)/block/pmem0", subsystem: "block", devname: "pmem0",
            kind: .block, major: 259, minor: 0)
    }()

    static let ndbus0 = String(region0.split(separator: "/").dropLast().joined(separator: "/")).withLeadingSlash

    /// Devices that no event of the captures concerns.
    static let unrelated: [DaxDeviceIdentity] = [
        DaxDeviceIdentity(devpath: "\(ndbus0)/region1/dax1.0/dax1.0", subsystem: "dax", devname: "dax1.0", major: 252, minor: 1),
        DaxDeviceIdentity(devpath: "\(ndbus0)/region10/dax10.0/dax10.0", subsystem: "dax", devname: "dax10.0", major: 252, minor: 10),
        DaxDeviceIdentity(devpath: "\(ndbus0)/region1/pfn1.0/block/pmem1", subsystem: "block", devname: "pmem1", major: 259, minor: 1),
        // region0 (whose unbind is in the captures) is a string prefix of region01, not an ancestor.
        DaxDeviceIdentity(devpath: "\(region0)1/dax01.0/dax01.0", subsystem: "dax", devname: "dax01.0"),
    ]
}

extension String {
    fileprivate var withLeadingSlash: String { hasPrefix("/") ? self : "/" + self }
}

@Suite struct RemovalClassifierTests {
    func verdicts(_ identity: DaxDeviceIdentity, _ section: UEventFixtures.Section) throws -> [DeviceTransition?] {
        let classifier = RemovalClassifier(identity: identity)
        return try section.messages.map { classifier.classify(try UEvent(kernelMessage: $0)) }
    }

    @Test func fixtureIdentitiesMatchCaptures() {
        #expect(FixtureIdentities.dax00.devpath == "/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0")
        #expect(FixtureIdentities.dax00.subsystem == "dax")
        #expect(FixtureIdentities.pmem0.devpath == "/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/pfn0.0/block/pmem0")
    }

    /// Every devdax path A-E: dax0.0 is removed in each unbind/disable section and may be
    /// back in each bind/enable section, and nothing else.
    @Test(arguments: ["A-device_dax", "B-dax_pmem", "C-ndctl", "D-daxctl", "E-ndctl"])
    func devdaxPaths(prefix: String) throws {
        let sections = UEventFixtures.sections("uevents-devdax.txt").filter { $0.mark.hasPrefix(prefix) }
        #expect(sections.count == 2)
        let going = try verdicts(FixtureIdentities.dax00, sections[0])
        let coming = try verdicts(FixtureIdentities.dax00, sections[1])
        #expect(sections[0].mark.contains("unbind") || sections[0].mark.contains("disable"))
        // The very first kernel message of each removal already concerns dax0.0: no delay.
        #expect(going.first == .removed)
        #expect(Set(going.compactMap { $0 }) == [.removed])
        #expect(Set(coming.compactMap { $0 }) == [.returned])
    }

    @Test func regionDisableCountsEachAncestor() throws {
        let section = UEventFixtures.sections("uevents-devdax.txt").first { $0.mark == "E-ndctl-disable-region" }!
        let v = try verdicts(FixtureIdentities.dax00, section)
        // dax0.0/dax0.0 unbind+remove, its nd_dax seed unbind+remove; namespace0.0, btt0.0,
        // pfn0.0 and dax0.1 are siblings; region0 unbind is an ancestor.
        #expect(v == [.removed, .removed, .removed, .removed, nil, nil, nil, nil, .removed])
    }

    @Test func regionEnableBringsDax00BackUnderAnotherSeed() throws {
        let section = UEventFixtures.sections("uevents-devdax.txt").first { $0.mark == "E-ndctl-enable-region" }!
        let events = try section.messages.map { try UEvent(kernelMessage: $0) }
        let classifier = RemovalClassifier(identity: FixtureIdentities.dax00)
        let returned = events.filter { classifier.classify($0) == .returned }.map(\.devpath)
        #expect(returned == [
            FixtureIdentities.region0,  // the region bind: an ancestor
            FixtureIdentities.region0 + "/dax0.0",  // the nd_dax seed comes back: an ancestor
            FixtureIdentities.region0 + "/dax0.1/dax0.0",  // same name, new seed
            FixtureIdentities.region0 + "/dax0.1/dax0.0",
        ])
    }

    @Test func namespaceCreationDoesNotRemoveDax00() throws {
        let create = UEventFixtures.sections("uevents-devdax.txt").first { $0.mark == "create-devdax" }!
        let v = try verdicts(FixtureIdentities.dax00, create)
        // Includes remove@.../pfn0.1/block/pmem0 and the namespace0.0 unbind.
        #expect(!v.contains(.removed))
    }

    @Test func fsdaxPfnUnbindAndBind() throws {
        let sections = UEventFixtures.sections("uevents-fsdax.txt")
        let unbind = try verdicts(FixtureIdentities.pmem0, sections.first { $0.mark == "F-nd_pmem-unbind-pfn0.0" }!)
        let bind = try verdicts(FixtureIdentities.pmem0, sections.first { $0.mark == "F-nd_pmem-bind-pfn0.0" }!)
        // bdi/259:0 is not in pmem0's ancestry; the block remove and the pfn0.0 unbind are.
        #expect(unbind == [nil, .removed, .removed])
        #expect(bind == [nil, .returned, .returned])
        // dax0.0 is untouched by the fsdax pfn unbind.
        let dax = try verdicts(FixtureIdentities.dax00, sections.first { $0.mark == "F-nd_pmem-unbind-pfn0.0" }!)
        #expect(dax == [nil, nil, nil])
    }

    @Test(arguments: FixtureIdentities.unrelated)
    func unrelatedIdentitiesNeverFire(identity: DaxDeviceIdentity) throws {
        for section in UEventFixtures.sections("uevents-devdax.txt") + UEventFixtures.sections("uevents-fsdax.txt") {
            let v = try verdicts(identity, section)
            #expect(v.allSatisfy { $0 == nil }, "\(identity) fired in \(section.mark)")
        }
    }

    @Test func ancestryIsByPathComponent() {
        let id = DaxDeviceIdentity(devpath: "/devices/ndbus0/region1/dax1.0/dax1.0/")
        #expect(id.devpath == "/devices/ndbus0/region1/dax1.0/dax1.0")
        #expect(id.isAtOrBelow("/devices/ndbus0/region1"))
        #expect(id.isAtOrBelow("/devices/ndbus0/region1/"))
        #expect(id.isAtOrBelow("/devices/ndbus0/region1/dax1.0/dax1.0"))
        #expect(!id.isAtOrBelow("/devices/ndbus0/region10"))
        #expect(!id.isAtOrBelow("/devices/ndbus0/region"))
        #expect(!id.isAtOrBelow("/devices/ndbus0/region1/dax1.0/dax1.0/child"))
        #expect(!id.isAtOrBelow("/"))
        #expect(!id.isAtOrBelow(""))
    }

    @Test func moveAwayIsRemovalAndChangeIsIgnored() throws {
        let c = RemovalClassifier(identity: FixtureIdentities.dax00)
        let r = FixtureIdentities.region0
        let move = try UEvent(kernelMessage: UEventFixtures.bytes(
            "move@\(r)/renamed|ACTION=move|DEVPATH=\(r)/renamed|DEVPATH_OLD=\(r)/dax0.0|SUBSYSTEM=nd|SEQNUM=5|"))
        #expect(c.classify(move) == .removed)
        let change = try UEvent(kernelMessage: UEventFixtures.bytes(
            "change@\(r)/dax0.0/dax0.0|ACTION=change|DEVPATH=\(r)/dax0.0/dax0.0|SUBSYSTEM=dax|SEQNUM=6|"))
        #expect(c.classify(change) == nil)
        // Same DEVNAME in another subsystem is another device.
        let other = try UEvent(kernelMessage: UEventFixtures.bytes(
            "add@/devices/virtual/x/dax0.0|ACTION=add|DEVPATH=/devices/virtual/x/dax0.0|SUBSYSTEM=misc|DEVNAME=dax0.0|SEQNUM=7|"))
        #expect(c.classify(other) == nil)
    }
}

@Suite struct RemovalClassifierIdentityTests {
    /// The real sysfs of this machine: /dev/null is 1:3 in the `mem` class.
    @Test func resolvesRealCharacterDevice() throws {
        let id = try DaxDeviceIdentity.resolve(path: "/dev/null")
        #expect(id.devpath == "/devices/virtual/mem/null")
        #expect(id.subsystem == "mem" && id.devname == "null" && id.kind == .character)
        #expect(id.major == 1 && id.minor == 3)
    }

    @Test func missingPathIsNotFound() {
        #expect { try DaxDeviceIdentity.resolve(path: "/nonexistent/daxmap") } throws: {
            ($0 as! DaxError).code == .notFound
        }
    }

    @Test func fakeSysfsRootIsHonoured() throws {
        let root = try FakeSysfsTree()
        let dev = "/devices/platform/ndbus0/region0/dax0.0/dax0.0"
        root.mkdirs(dev)
        root.mkdirs("/class/mem")
        root.mkdirs("/dev/char")
        root.symlink("../../devices/platform/ndbus0/region0/dax0.0/dax0.0", at: "/dev/char/1:3")
        root.symlink("../../../../../../class/mem", at: dev + "/subsystem")
        root.write("MAJOR=1\nMINOR=3\nDEVNAME=fake0\n", at: dev + "/uevent")
        let id = try DaxDeviceIdentity.resolve(path: "/dev/null", sysfsRoot: root.path)
        #expect(id.devpath == dev && id.devname == "fake0" && id.subsystem == "mem")
    }

    /// A file on a file system without a block device (tmpfs, overlayfs) has no sysfs device.
    @Test func fileWithoutBlockDevice() throws {
        let root = try FakeSysfsTree()
        root.write("x", at: "/file")
        #expect { try DaxDeviceIdentity.resolve(path: root.path + "/file", sysfsRoot: root.path) } throws: {
            ($0 as! DaxError).code == .notADaxDevice
        }
    }
}

/// A throw-away directory standing in for /sys; removed on deinit.
final class FakeSysfsTree {
    let path: String

    init() throws {
        var template = Array("/tmp/daxmap-sysfs-XXXXXX".utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw DaxError(.system, operation: "mkdtemp", errno: .init(rawValue: errno), message: "no temp dir")
        }
        path = String(cString: p)
    }

    deinit { Self.removeTree(path) }

    func mkdirs(_ relative: String) {
        var current = path
        for component in relative.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 { precondition(errno == EEXIST, "mkdir \(current): \(errno)") }
        }
    }

    func symlink(_ target: String, at relative: String) {
        precondition(Glibc.symlink(target, path + relative) == 0, "symlink \(relative): \(errno)")
    }

    func write(_ text: String, at relative: String) {
        let fd = open(path + relative, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        precondition(fd >= 0, "open \(relative): \(errno)")
        _ = text.utf8CString.withUnsafeBufferPointer { Glibc.write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
    }

    func remove(_ relative: String) { Self.removeTree(path + relative) }

    /// rm -rf without following symlinks.
    static func removeTree(_ p: String) {
        var st = stat()
        guard lstat(p, &st) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFDIR, let dir = opendir(p) {
            var children: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafePointer(to: entry.pointee.d_name) {
                    String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
                }
                if name != "." && name != ".." { children.append(name) }
            }
            closedir(dir)
            for child in children { removeTree(p + "/" + child) }
            rmdir(p)
        } else {
            unlink(p)
        }
    }
}
