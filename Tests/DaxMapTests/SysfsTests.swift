import Glibc
import Testing
@testable import DaxMap

/// A throwaway directory shaped like /sys, built from the fixture values.
final class FakeSysfs {
    let root: String

    init() throws {
        var template = Array("/tmp/daxmap-sysfs-XXXXXX".utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw DaxError(.system, operation: "mkdtemp", errno: .init(rawValue: errno), message: "cannot make a temp dir")
        }
        root = String(cString: p)
    }

    deinit { FakeSysfs.remove(root) }

    /// `mkdir -p root/relative`.
    func directory(_ relative: String) {
        var path = root
        for part in relative.split(separator: "/") {
            path += "/" + part
            _ = mkdir(path, 0o755)
        }
    }

    func symlink(_ relative: String, to target: String) {
        let parent = relative.split(separator: "/").dropLast().joined(separator: "/")
        directory(parent)
        #expect(Glibc.symlink(target, root + "/" + relative) == 0)
    }

    func file(_ relative: String, _ contents: String) {
        let parent = relative.split(separator: "/").dropLast().joined(separator: "/")
        directory(parent)
        let fd = open(root + "/" + relative, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(fd >= 0)
        var bytes = Array(contents.utf8)
        _ = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    private static func remove(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            if let dir = opendir(path) {
                while let entry = readdir(dir) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                    }
                    if name != "." && name != ".." { remove(path + "/" + name) }
                }
                closedir(dir)
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

/// What `sysfs-dax0.0-paths.txt` and `sysfs-dax0.0-attrs.txt` say, as values.
struct Dax00Fixture {
    var devicePath = ""  // /sys/devices/.../dax0.0/dax0.0
    var subsystem = ""  // /sys/bus/dax
    var attributes: [(String, String)] = []

    init() {
        for line in Fixture.text("sysfs-dax0.0-paths.txt").split(separator: "\n") {
            if line.hasPrefix("readlink /sys/dev/char/252:0 = ") {
                devicePath = String(line.split(separator: "=", maxSplits: 1)[1].drop(while: { $0 == " " }))
            } else if line.hasPrefix("subsystem = ") {
                subsystem = String(line.dropFirst("subsystem = ".count))
            }
        }
        for line in Fixture.text("sysfs-dax0.0-attrs.txt").split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { attributes.append((String(parts[0]), String(parts[1]))) }
        }
    }

    /// Builds the fixture's dax0.0 into a fake tree, links and all.
    func build(into fake: FakeSysfs) {
        let devices = String(devicePath.dropFirst("/sys/".count))  // devices/LNXSYSTM:00/...
        fake.directory(devices)
        fake.directory(String(subsystem.dropFirst("/sys/".count)))  // bus/dax
        for (name, value) in attributes where name != "uevent" {
            fake.file(devices + "/" + name, value.trimmingSpaces + "\n")
        }
        fake.symlink(devices + "/subsystem", to: fake.root + "/" + subsystem.dropFirst("/sys/".count))
        // Like the kernel: a relative link from /sys/dev/char.
        fake.symlink("dev/char/252:0", to: "../../" + devices)
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}

@Suite struct SysfsTests {
    @Test func fixtureDescribesDax00() {
        let f = Dax00Fixture()
        #expect(f.devicePath == "/sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0")
        #expect(f.subsystem == "/sys/bus/dax")
        #expect(f.attributes.contains { $0.0 == "dev" })
    }

    @Test func resolvesDeviceDaxCharDeviceInFakeTree() throws {
        let fake = try FakeSysfs()
        let f = Dax00Fixture()
        f.build(into: fake)
        let realRoot = try #require(Syscalls.realpath(fake.root))

        #expect(Sysfs.subsystem(ofCharDevice: 252, minor: 0, root: fake.root) == "dax")
        #expect(Sysfs.devicePath(ofCharDevice: 252, minor: 0, root: fake.root) == realRoot + f.devicePath.dropFirst("/sys".count))
        // Another minor, or the block namespace, is not there.
        #expect(Sysfs.subsystem(ofCharDevice: 252, minor: 1, root: fake.root) == nil)
        #expect(Sysfs.devicePath(ofBlockDevice: 252, minor: 0, root: fake.root) == nil)
    }

    @Test func deviceAttributesAgreeWithStat() throws {
        let fake = try FakeSysfs()
        Dax00Fixture().build(into: fake)
        let dir = try #require(Sysfs.devicePath(ofCharDevice: 252, minor: 0, root: fake.root))
        let dev = try #require(Sysfs.attribute(dir + "/dev"))
        let number = try #require(Sysfs.parseDeviceNumber(dev))
        // `stat /dev/dax0.0` printed major:minor hex = fc:0.
        #expect(number.major == 0xfc && number.minor == 0)
        #expect(Sysfs.attribute(dir + "/align") == "2097152")
        #expect(Sysfs.attribute(dir + "/resource") == "0x101200000")
        #expect(Sysfs.attribute(dir + "/missing") == nil)
    }

    @Test func resolvesFsdaxBlockDeviceUnderItsPfn() throws {
        // uevents-fsdax.txt: pmem0 is 259:0 at .../region0/pfn0.0/block/pmem0;
        // sysfs-pmem0.txt: its parent device is pfn0.0.
        let devpath = "devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/pfn0.0/block/pmem0"
        let uevents = Fixture.text("uevents-fsdax.txt")
        #expect(uevents.contains("DEVPATH=/\(devpath)|SUBSYSTEM=block|MAJOR=259|MINOR=0|DEVNAME=pmem0"))
        #expect(Fixture.text("sysfs-pmem0.txt").hasPrefix("pmem0 device = pfn0.0"))

        let fake = try FakeSysfs()
        fake.directory(devpath)
        fake.symlink("dev/block/259:0", to: "../../" + devpath)
        let realRoot = try #require(Syscalls.realpath(fake.root))
        let path = try #require(Sysfs.devicePath(ofBlockDevice: 259, minor: 0, root: fake.root))
        #expect(path == realRoot + "/" + devpath)
        let components = path.split(separator: "/")
        #expect(components.dropLast(2).last == "pfn0.0")
    }

    @Test func missingSysfsRootGivesNil() {
        #expect(Sysfs.subsystem(ofCharDevice: 1, minor: 3, root: "/nonexistent-daxmap-root") == nil)
        #expect(Sysfs.devicePath(ofCharDevice: 1, minor: 3, root: "/nonexistent-daxmap-root") == nil)
    }

    @Test func realDevNullIsInTheMemSubsystem() throws {
        var st = stat()
        try #require(stat("/dev/null", &st) == 0)
        // glibc's major()/minor() macros, which Swift cannot import.
        let dev = UInt64(st.st_rdev)
        let major = UInt32(truncatingIfNeeded: ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff))
        let minor = UInt32(truncatingIfNeeded: (dev & 0xff) | ((dev >> 12) & ~0xff))
        #expect((major, minor) == (1, 3))
        #expect(Sysfs.subsystem(ofCharDevice: major, minor: minor) == "mem")
        #expect(Sysfs.devicePath(ofCharDevice: major, minor: minor)?.hasSuffix("/null") == true)
    }

    @Test func parsesBadblocks() {
        #expect(Sysfs.parseBadblocks("") == [])  // sysfs-nd-regions.txt: badblocks=[]
        #expect(Sysfs.parseBadblocks("\n") == [])
        #expect(
            Sysfs.parseBadblocks("8 8\n1024 16\n") == [
                Badblock(sectorOffset: 8, sectorCount: 8), Badblock(sectorOffset: 1024, sectorCount: 16),
            ])
        #expect(Sysfs.parseBadblocks("8 8") == [Badblock(sectorOffset: 8, sectorCount: 8)])
        #expect(Sysfs.parseBadblocks("8\n") == nil)
        #expect(Sysfs.parseBadblocks("8 x\n") == nil)
        #expect(Sysfs.parseBadblocks("-1 8\n") == nil)
        #expect(Sysfs.parseBadblocks("1 2 3\n") == nil)
    }

    @Test func fixtureRegionHasNoBadblocks() {
        // The capture printed the region's badblocks file between brackets.
        let line = Fixture.text("sysfs-nd-regions.txt")
        guard let start = line.firstRange(of: "badblocks=["), let end = line[start.upperBound...].firstIndex(of: "]") else {
            Issue.record("no badblocks in the fixture")
            return
        }
        #expect(Sysfs.parseBadblocks(String(line[start.upperBound..<end])) == [])
    }

    @Test func readsBadblocksFile() throws {
        let fake = try FakeSysfs()
        fake.file("devices/ndbus0/region0/badblocks", "0 8\n4096 1\n")
        #expect(
            Sysfs.badblocks(atPath: fake.root + "/devices/ndbus0/region0/badblocks") == [
                Badblock(sectorOffset: 0, sectorCount: 8), Badblock(sectorOffset: 4096, sectorCount: 1),
            ])
        #expect(Sysfs.badblocks(atPath: fake.root + "/devices/ndbus0/region0/nothing") == nil)
    }

    @Test func parsesDeviceNumbers() {
        #expect(Sysfs.parseDeviceNumber("252:0\n").map { [$0.major, $0.minor] } == [252, 0])
        #expect(Sysfs.parseDeviceNumber("252") == nil)
        #expect(Sysfs.parseDeviceNumber("a:b") == nil)
        #expect(Sysfs.parseDeviceNumber("1:2:3") == nil)
    }
}
