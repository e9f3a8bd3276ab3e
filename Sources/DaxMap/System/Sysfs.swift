import Glibc

// Small sysfs helpers. Every function takes the sysfs mount point as `root`
// (default "/sys") so tests can point them at a fake tree in a temp directory.

enum Sysfs {
    static let defaultRoot = "/sys"

    /// The subsystem a character device belongs to: the last component of
    /// where `/sys/dev/char/MAJ:MIN/subsystem` leads, e.g. `dax` for device-dax
    /// (`/sys/bus/dax`), `mem` for `/dev/zero`. nil when there is no such device.
    static func subsystem(ofCharDevice major: UInt32, minor: UInt32, root: String = defaultRoot) -> String? {
        guard let path = Syscalls.realpath("\(root)/dev/char/\(major):\(minor)/subsystem") else { return nil }
        return lastComponent(path)
    }

    /// The canonical sysfs directory of a character device: the realpath of
    /// `/sys/dev/char/MAJ:MIN`, e.g.
    /// `/sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0`.
    static func devicePath(ofCharDevice major: UInt32, minor: UInt32, root: String = defaultRoot) -> String? {
        Syscalls.realpath("\(root)/dev/char/\(major):\(minor)")
    }

    /// The canonical sysfs directory of a block device: the realpath of
    /// `/sys/dev/block/MAJ:MIN`, e.g. `.../ndbus0/region0/pfn0.0/block/pmem0`.
    static func devicePath(ofBlockDevice major: UInt32, minor: UInt32, root: String = defaultRoot) -> String? {
        Syscalls.realpath("\(root)/dev/block/\(major):\(minor)")
    }

    /// Where a character device's `driver` link leads; nil when it has none
    /// (unbound) or the device is gone.
    static func driver(ofCharDevice major: UInt32, minor: UInt32, root: String = defaultRoot) -> String? {
        Syscalls.realpath("\(root)/dev/char/\(major):\(minor)/driver")
    }

    /// The dax bus driver that hot-plugs a device's memory as system RAM.
    static let systemRAMDriver = "kmem"

    /// Whether a dax device bound as `driver` (a `driver` link's target, nil when
    /// unbound) serves device-dax mappings: bound, and not to `kmem`, which takes the
    /// memory for the page allocator (`daxctl reconfigure-device --mode=system-ram`).
    static func servesDeviceDax(driver: String?) -> Bool {
        guard let driver else { return false }
        return lastComponent(driver) != systemRAMDriver
    }

    /// The subsystem of a canonical sysfs device directory (`dax`, `block`, `nd`...).
    static func subsystem(ofDirectory directory: String) -> String? {
        Syscalls.realpath(directory + "/subsystem").flatMap(lastComponent)
    }

    /// `DEVNAME` from a device directory's `uevent` file (may hold a directory, `dri/card0`).
    static func deviceName(ofDirectory directory: String) -> String? {
        guard let uevent = Syscalls.readText(directory + "/uevent") else { return nil }
        var name: String?
        for line in uevent.split(separator: "\n") where line.hasPrefix("DEVNAME=") {
            name = String(line.dropFirst("DEVNAME=".count))
        }
        return name
    }

    /// Whether `devpath` (below `root`) exists; lstat, so a dangling `driver`
    /// link still counts (the kernel removes links, never dangles them).
    static func exists(_ devpath: String, root: String = defaultRoot) -> Bool {
        if case .success = Syscalls.status(ofLink: root + devpath) { return true }
        return false
    }

    /// A numeric attribute (decimal or 0x hex), nil if unreadable or not a number.
    static func number(_ path: String) -> UInt64? {
        guard let text = attribute(path) else { return nil }
        if text.hasPrefix("0x") { return UInt64(text.dropFirst(2), radix: 16) }
        return UInt64(text)
    }

    /// A sysfs attribute with surrounding white space removed, nil if unreadable.
    static func attribute(_ path: String) -> String? {
        guard let text = Syscalls.readText(path) else { return nil }
        return trimmed(text)
    }

    /// Parses a `dev` attribute (`252:0`).
    static func parseDeviceNumber(_ text: String) -> (major: UInt32, minor: UInt32)? {
        let parts = trimmed(text).split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let major = UInt32(parts[0]), let minor = UInt32(parts[1]) else { return nil }
        return (major, minor)
    }

    /// Parses a `badblocks` attribute: one `offset length` pair per line, both
    /// in 512-byte sectors (the kernel's `badblocks_show`; an acknowledged range
    /// is not marked). An empty file means no known badblocks. nil when a line
    /// is not two unsigned decimal numbers: better to say "unknown" than to
    /// report half a list as the truth.
    static func parseBadblocks(_ text: String) -> [Badblock]? {
        var result: [Badblock] = []
        for line in text.split(whereSeparator: { $0 == "\n" }) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.isEmpty { continue }
            guard fields.count == 2, let offset = UInt64(fields[0]), let count = UInt64(fields[1]) else { return nil }
            result.append(Badblock(sectorOffset: offset, sectorCount: count))
        }
        return result
    }

    /// Reads and parses a `badblocks` file; nil if unreadable or malformed.
    static func badblocks(atPath path: String) -> [Badblock]? {
        guard let text = Syscalls.readText(path) else { return nil }
        return parseBadblocks(text)
    }

    static func lastComponent(_ path: String) -> String? {
        guard let last = path.split(separator: "/").last else { return nil }
        return String(last)
    }

    private static func trimmed(_ s: String) -> String {
        var sub = Substring(s)
        while let c = sub.first, c.isWhitespace { sub.removeFirst() }
        while let c = sub.last, c.isWhitespace { sub.removeLast() }
        return String(sub)
    }
}
