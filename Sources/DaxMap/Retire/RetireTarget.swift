internal import CDaxMap
import Glibc

/// What a planned removal (``DaxRetirement``) is about, recognised from a path:
///
/// - a character device (`/dev/daxX.Y`): its `st_rdev`;
/// - a block device (`/dev/pmemN`): its `st_rdev`, meaning every file of a
///   file system on it (their `st_dev`);
/// - a directory that is a mount point: its `st_dev` (the same key as the block device);
/// - a regular file (an emulated device, a DAX file): its `st_dev` and `st_ino`.
///
/// The key names the target in marker file names and on the wire; a device of
/// this process matches when one of ``keys(of:kind:)`` equals it.
struct RetireTarget: Sendable, Hashable {
    enum Kind: String, Sendable { case charDevice, blockDevice, mount, file }

    let path: String
    let kind: Kind
    /// char/block: `st_rdev`; mount and file: `st_dev`.
    let device: UInt64
    /// file: `st_ino`; char: the node's `st_ino` (what `/proc/PID/maps` shows).
    let inode: UInt64
    /// char: the node's own `st_dev` (the devtmpfs that `/proc/PID/maps` shows).
    let nodeDevice: UInt64
    /// file: the canonical path (matched against `/proc/PID/maps` too).
    let canonicalPath: String?

    init(path: String) throws(DaxError) {
        let st: stat
        switch Syscalls.status(ofPath: path) {
        case .success(let s): st = s
        case .failure(let errno): throw DaxDevice.openError(path, errno, operation: "retire")
        }
        self.path = path
        nodeDevice = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        canonicalPath = Syscalls.realpath(path)
        switch st.st_mode & S_IFMT {
        case S_IFCHR:
            kind = .charDevice
            device = UInt64(st.st_rdev)
            let (major, minor) = (cdaxmap_dev_major(device), cdaxmap_dev_minor(device))
            // /dev/null or a tty would "retire" every process that has it open.
            guard let subsystem = Sysfs.subsystem(ofCharDevice: major, minor: minor), subsystem == "dax" else {
                throw DaxError(.notADaxDevice, operation: "retire", path: path,
                               message: "is a character device (\(major):\(minor)) of subsystem '\(Sysfs.subsystem(ofCharDevice: major, minor: minor) ?? "unknown")', not device-dax")
            }
        case S_IFBLK:
            kind = .blockDevice
            device = UInt64(st.st_rdev)
            try Self.requirePmem(device, path: path)
        case S_IFDIR:
            // A directory stands for its file system only where it is mounted:
            // any other directory would silently mean the whole file system under it.
            guard case .success(let parent) = Syscalls.status(ofPath: path + "/.."),
                  parent.st_dev != st.st_dev || parent.st_ino == st.st_ino else {
                throw DaxError(.invalidArgument, operation: "retire", path: path,
                               message: "is a directory but not a mount point; give the mount point of the DAX file system, its block device (/dev/pmemN), a file, or a /dev/daxX.Y device")
            }
            kind = .mount
            device = UInt64(st.st_dev)
            try Self.requirePmem(device, path: path)
        case S_IFREG:
            kind = .file
            device = UInt64(st.st_dev)
        default:
            throw DaxError(.notADaxDevice, operation: "retire", path: path,
                           message: "is neither a device, a mount point nor a regular file")
        }
    }

    /// The marker and wire name of the target: `char-M-m`, `fs-M-m` (a block
    /// device or a mount: the same file system), `file-M-m-INODE`.
    /// A block device, or the device of a mount, must be NVDIMM pmem (on the nd
    /// bus): `--then unmount-unbind` of a mount on an ordinary disk would unmount
    /// and unbind that disk.
    private static func requirePmem(_ device: UInt64, path: String) throws(DaxError) {
        let (major, minor) = (cdaxmap_dev_major(device), cdaxmap_dev_minor(device))
        let subsystem = Sysfs.subsystem(ofDirectory: "/sys/dev/block/\(major):\(minor)/device")
        guard subsystem == "nd" else {
            throw DaxError(.notADaxDevice, operation: "retire", path: path,
                           message: "its block device \(major):\(minor) is not NVDIMM pmem (device subsystem '\(subsystem ?? "none")'); retire a /dev/pmemN, its DAX mount, a DAX file or a /dev/daxX.Y")
        }
    }

    var key: String {
        switch kind {
        case .charDevice: Self.charKey(device)
        case .blockDevice, .mount: Self.fileSystemKey(device)
        case .file: Self.fileKey(device, inode)
        }
    }

    /// The keys under which a device opened with `identity` is retired.
    static func keys(of identity: FileIdentity, kind: DaxDeviceKind) -> [String] {
        kind == .deviceDax
            ? [charKey(identity.rdev)]
            : [fileKey(identity.device, identity.inode), fileSystemKey(identity.device)]
    }

    /// The keys of what `st` describes (before a device is opened from it).
    static func keys(of st: stat) -> [String] {
        st.st_mode & S_IFMT == S_IFCHR
            ? [charKey(UInt64(st.st_rdev))]
            : [fileKey(UInt64(st.st_dev), UInt64(st.st_ino)), fileSystemKey(UInt64(st.st_dev))]
    }

    private static func numbers(_ dev: UInt64) -> String { "\(cdaxmap_dev_major(dev))-\(cdaxmap_dev_minor(dev))" }
    private static func charKey(_ rdev: UInt64) -> String { "char-" + numbers(rdev) }
    private static func fileSystemKey(_ dev: UInt64) -> String { "fs-" + numbers(dev) }
    private static func fileKey(_ dev: UInt64, _ inode: UInt64) -> String { "file-" + numbers(dev) + "-\(inode)" }

    /// Text one of which every `/proc/PID/maps` line that maps the target
    /// contains (`MAJ:MIN INODE` as maps prints it, or the path): a maps file
    /// with none of them is skipped unparsed, which is most of a host's.
    var mapsNeedles: [String] {
        func dev(_ d: UInt64) -> String {
            func hex(_ n: UInt32) -> String { let h = String(n, radix: 16); return h.count < 2 ? "0" + h : h }
            return hex(cdaxmap_dev_major(d)) + ":" + hex(cdaxmap_dev_minor(d))
        }
        switch kind {
        case .charDevice: return ["\(dev(nodeDevice)) \(inode)"]
        case .blockDevice, .mount: return [" \(dev(device)) "]
        case .file: return ["\(dev(device)) \(inode)"] + (canonicalPath.map { [$0] } ?? [])
        }
    }

    /// Whether a `/proc/PID/maps` line (its device, inode and path) maps the target.
    func matchesMapping(major: UInt32, minor: UInt32, inode lineInode: UInt64, path linePath: Substring) -> Bool {
        func same(_ dev: UInt64) -> Bool { cdaxmap_dev_major(dev) == major && cdaxmap_dev_minor(dev) == minor }
        switch kind {
        case .charDevice: return same(nodeDevice) && lineInode == inode
        case .blockDevice, .mount: return same(device)
        case .file: return (same(device) && lineInode == inode) || (canonicalPath.map { linePath == $0 } ?? false)
        }
    }

    /// Whether an open file (the `stat` of a `/proc/PID/fd/N` link) is the target.
    func matchesOpenFile(_ st: stat) -> Bool {
        switch kind {
        case .charDevice: return st.st_mode & S_IFMT == S_IFCHR && UInt64(st.st_rdev) == device
        case .blockDevice, .mount:
            return UInt64(st.st_dev) == device || (st.st_mode & S_IFMT == S_IFBLK && UInt64(st.st_rdev) == device)
        case .file: return UInt64(st.st_dev) == device && UInt64(st.st_ino) == inode
        }
    }
}
