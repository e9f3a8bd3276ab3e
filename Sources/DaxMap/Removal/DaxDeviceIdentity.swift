import Glibc
import SystemPackage

/// Where an opened device lives in the kernel's device tree, so that uevents and sysfs
/// can be matched against it.
///
/// A value: it does not keep the device open. Resolve it right after opening the device,
/// while the device is certainly there; kernel device names are not stable across
/// removals, which is why removal is matched by path and return also by name.
///
/// Package-level: removal matching's own key. Users see the path as
/// ``DaxDevice/sysfsDevicePath``.
package struct DaxDeviceIdentity: Sendable, Hashable, CustomStringConvertible {
    /// Whether the kernel knows the device as a character or a block device.
    package enum Kind: String, Sendable, Hashable {
        /// Device-dax (`/dev/daxX.Y`): `/sys/dev/char/MAJ:MIN`.
        case character = "char"
        /// The pmem block device under an fsdax file system: `/sys/dev/block/MAJ:MIN`.
        case block
    }

    /// The canonical sysfs path without the `/sys` prefix, as in a uevent's `DEVPATH`,
    /// e.g. `/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0`.
    package var devpath: String
    /// The device's subsystem, e.g. `dax` or `block`, when known.
    package var subsystem: String?
    /// The node name under `/dev`, e.g. `dax0.0` or `pmem0`, when known.
    package var devname: String?
    /// Character or block, when known.
    package var kind: Kind?
    /// The device number, when known.
    package var major: UInt32?
    package var minor: UInt32?

    /// An identity from known values (tests, or a caller that resolved sysfs itself).
    package init(
        devpath: String, subsystem: String? = nil, devname: String? = nil,
        kind: Kind? = nil, major: UInt32? = nil, minor: UInt32? = nil
    ) {
        // A trailing slash would defeat the component-wise ancestor test.
        var path = devpath
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        self.devpath = path
        self.subsystem = subsystem
        self.devname = devname
        self.kind = kind
        self.major = major
        self.minor = minor
    }

    /// Resolves the identity of what backs `path`: the device itself for a character or
    /// block device node, the block device of its file system for any other file.
    ///
    /// Reads `stat(2)`, then `realpath` of `<sysfsRoot>/dev/{char,block}/MAJ:MIN`, its
    /// `subsystem` link and its `uevent` file.
    /// - Parameters:
    ///   - path: `/dev/dax0.0`, or a file on a DAX-mounted file system.
    ///   - sysfsRoot: where sysfs is mounted; injectable for tests.
    /// - Throws: `DaxError` `.notFound` if `path` cannot be stat'ed, `.notADaxDevice` if
    ///   the kernel has no sysfs device for it (a file on tmpfs or overlayfs, say).
    package static func resolve(path: String, sysfsRoot: String = "/sys") throws(DaxError) -> DaxDeviceIdentity {
        let st: Glibc.stat
        switch Syscalls.status(ofPath: path) {
        case .success(let s): st = s
        case .failure(let e):
            throw DaxError(.notFound, operation: "stat", path: path, errno: e, message: "cannot stat the device or file")
        }
        let kind: Kind
        let dev: UInt64
        switch st.st_mode & S_IFMT {
        case S_IFCHR: kind = .character; dev = UInt64(st.st_rdev)
        case S_IFBLK: kind = .block; dev = UInt64(st.st_rdev)
        default: kind = .block; dev = UInt64(st.st_dev)  // a file: the block device under its file system
        }
        // glibc's gnu_dev_major/minor encoding, spelled out because the macros are not imported.
        let major = UInt32(truncatingIfNeeded: ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff))
        let minor = UInt32(truncatingIfNeeded: (dev & 0xff) | ((dev >> 12) & ~0xff))
        let real = kind == .character ? Sysfs.devicePath(ofCharDevice: major, minor: minor, root: sysfsRoot)
            : Sysfs.devicePath(ofBlockDevice: major, minor: minor, root: sysfsRoot)
        guard let real, let devpath = stripRoot(real, sysfsRoot) else {
            throw DaxError(
                .notADaxDevice, operation: "resolve device", path: path,
                message: "no sysfs device \(sysfsRoot)/dev/\(kind.rawValue)/\(major):\(minor): not backed by a kernel device (tmpfs, overlayfs?)")
        }
        let subsystem = Sysfs.subsystem(ofDirectory: real)
        let devname = Sysfs.deviceName(ofDirectory: real)
        return DaxDeviceIdentity(
            devpath: devpath, subsystem: subsystem, devname: devname, kind: kind, major: major, minor: minor)
    }

    /// `/sys/devices/x` -> `/devices/x`; nil if `path` is not under `root`.
    static func stripRoot(_ path: String, _ root: String) -> String? {
        let root = root.hasSuffix("/") ? String(root.dropLast()) : root
        guard path.hasPrefix(root + "/") else { return nil }
        return String(path.dropFirst(root.count))
    }

    /// True when `ancestor` is this device's path or a path-component prefix of it:
    /// `/a/region1` is an ancestor of `/a/region1/dax1.0`, not of `/a/region10/dax10.0`.
    package func isAtOrBelow(_ ancestor: String) -> Bool {
        var a = ancestor
        while a.count > 1, a.hasSuffix("/") { a.removeLast() }
        // "/" or "" would make every device a descendant; the kernel never sends either.
        guard a.count > 1, a.hasPrefix("/") else { return false }
        return devpath == a || devpath.hasPrefix(a + "/")
    }

    package var description: String {
        var s = devpath
        if let devname { s += " (\(devname)" + (major.map { ", \($0):\(minor ?? 0)" } ?? "") + ")" }
        return s
    }
}
