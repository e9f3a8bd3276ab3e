import Glibc
import Synchronization
import Testing
@testable import DaxMap

/// SysfsPoller against a fake sysfs tree shaped like the qemu guest's (see the fixtures).
@Suite struct SysfsPollerTests {
    static let region0 = "/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0"
    static let dax00 = region0 + "/dax0.0/dax0.0"

    /// A bound device-dax device: its directory, a `driver` link, and /sys/dev/char/252:0.
    func devdaxTree(_ sys: FakeSysfsTree, seed: String = "dax0.0", devnumLink: Bool) {
        let path = Self.region0 + "/\(seed)/dax0.0"
        sys.mkdirs(path)
        sys.mkdirs("/bus/dax/drivers/device_dax")
        sys.symlink("/bus/dax/drivers/device_dax", at: path + "/driver")  // target need not resolve: lstat
        if devnumLink {
            sys.mkdirs("/dev/char")
            sys.symlink("../..\(path)", at: "/dev/char/252:0")
        }
    }

    /// Path A/D: `device_dax` unbind leaves the device, only the driver link goes.
    @Test func driverUnbindAndBind() throws {
        let sys = try FakeSysfsTree()
        devdaxTree(sys, devnumLink: false)
        let poller = SysfsPoller(identity: DaxDeviceIdentity(devpath: Self.dax00), sysfsRoot: sys.path)
        #expect(poller.state == .bound(devpath: Self.dax00))
        #expect(poller.check() == nil)
        sys.remove(Self.dax00 + "/driver")
        #expect(poller.check() == .removed)
        #expect(poller.state == .unbound(devpath: Self.dax00))
        #expect(poller.check() == nil)  // reported once
        sys.symlink("/bus/dax/drivers/device_dax", at: Self.dax00 + "/driver")
        #expect(poller.check() == .returned)
        #expect(poller.check() == nil)
    }

    /// Paths B/C/E: the device (or its region) disappears, then reappears.
    @Test func ancestorRemovalAndReturn() throws {
        let sys = try FakeSysfsTree()
        devdaxTree(sys, devnumLink: false)
        let poller = SysfsPoller(identity: DaxDeviceIdentity(devpath: Self.dax00), sysfsRoot: sys.path)
        sys.remove(Self.region0)
        #expect(poller.check() == .removed)
        #expect(poller.state == .absent)
        sys.mkdirs(Self.dax00)  // back, but not bound yet: nothing to report
        #expect(poller.check() == nil)
        sys.symlink("/bus/dax/drivers/device_dax", at: Self.dax00 + "/driver")
        #expect(poller.check() == .returned)
    }

    /// The fsdax block device has no `driver` link of its own: present means usable.
    @Test func blockDeviceByPresence() throws {
        let sys = try FakeSysfsTree()
        let pmem0 = Self.region0 + "/pfn0.0/block/pmem0"
        sys.mkdirs(pmem0)
        let poller = SysfsPoller(identity: DaxDeviceIdentity(devpath: pmem0, kind: .block), sysfsRoot: sys.path)
        #expect(poller.state == .bound(devpath: pmem0))
        sys.remove(Self.region0 + "/pfn0.0/block")
        #expect(poller.check() == .removed)
        sys.mkdirs(pmem0)
        #expect(poller.check() == .returned)
    }

    /// `ndctl enable-region` brings dax0.0 back under the dax0.1 seed; the device number
    /// link finds it there.
    @Test func followsDeviceNumberToANewParent() throws {
        let sys = try FakeSysfsTree()
        devdaxTree(sys, devnumLink: true)
        let identity = DaxDeviceIdentity(devpath: Self.dax00, subsystem: "dax", devname: "dax0.0", kind: .character, major: 252, minor: 0)
        let poller = SysfsPoller(identity: identity, sysfsRoot: sys.path)
        #expect(poller.state == .bound(devpath: Self.dax00))
        sys.remove("/dev/char/252:0")
        sys.remove(Self.region0 + "/dax0.0")
        #expect(poller.check() == .removed)
        devdaxTree(sys, seed: "dax0.1", devnumLink: true)
        #expect(poller.check() == .returned)
        #expect(poller.state == .bound(devpath: Self.region0 + "/dax0.1/dax0.0"))
    }

    /// Removed and back elsewhere between two looks: still reported, as removed then returned.
    @Test func movedBetweenLooks() throws {
        let sys = try FakeSysfsTree()
        devdaxTree(sys, devnumLink: true)
        let identity = DaxDeviceIdentity(devpath: Self.dax00, kind: .character, major: 252, minor: 0)
        let poller = SysfsPoller(identity: identity, sysfsRoot: sys.path)
        sys.remove("/dev/char/252:0")
        sys.remove(Self.region0 + "/dax0.0")
        devdaxTree(sys, seed: "dax0.1", devnumLink: true)
        #expect(poller.check() == .removed)
        #expect(poller.check() == .returned)
        #expect(poller.check() == nil)
    }

    @Test func nextWaitsForAChangeMadeByAnotherThread() throws {
        let sys = try FakeSysfsTree()
        devdaxTree(sys, devnumLink: false)
        let poller = SysfsPoller(identity: DaxDeviceIdentity(devpath: Self.dax00), sysfsRoot: sys.path, interval: .milliseconds(5))
        #expect(poller.next(timeout: .milliseconds(30)) == nil)  // nothing happens: times out

        let driver = sys.path + Self.dax00 + "/driver"
        var thread = pthread_t()
        let arg = UnsafeMutablePointer<CChar>(strdup(driver)!)
        try #require(pthread_create(&thread, nil, { raw in
            usleep(50_000)
            unlink(raw!.assumingMemoryBound(to: CChar.self))
            free(raw)
            return nil
        }, arg) == 0)
        let clock = ContinuousClock()
        let start = clock.now
        #expect(poller.next(timeout: .seconds(5)) == .removed)
        #expect(clock.now - start < .seconds(5))
        pthread_join(thread, nil)
    }
}
