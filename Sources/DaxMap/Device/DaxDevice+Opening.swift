internal import CDaxMap
import Glibc
import SystemPackage

extension DaxDevice {
    /// Opens `/dev/daxX.Y`, a file on a DAX mount, or a plain file as an emulated device.
    ///
    /// - `/dev/daxX.Y` is checked to be device-dax (`/sys/dev/char/MAJ:MIN/subsystem`
    ///   is `dax`); size and alignment come from libdaxctl (sysfs as a fallback).
    /// - A regular file on a DAX mount is mapped `MAP_SHARED_VALIDATE | MAP_SYNC`
    ///   (cache-line granularity).
    /// - Any other regular file is an emulated device (page granularity, `msync`).
    ///
    /// - Throws: `.notFound`, `.notADaxDevice` (a directory, a character device
    ///   that is not device-dax), `.systemRAM` (a device-dax in system-ram mode:
    ///   `kmem` has its memory), `.blockDeviceNotMappable` (`/dev/pmem0`),
    ///   `.permissionDenied`, `.mapSyncUnsupported` (cache-line granularity
    ///   required where `MAP_SYNC` is refused), `.system`.
    public static func open(_ path: String, options: OpenOptions = OpenOptions()) throws(DaxError) -> DaxDevice {
        let st: stat
        switch Syscalls.status(ofPath: path) {
        case .success(let s): st = s
        case .failure(let errno): throw openError(path, errno, operation: "open")
        }
        if st.st_mode & S_IFMT == S_IFCHR || st.st_mode & S_IFMT == S_IFREG {
            try RetireMarker.refuseWhileRetiring(RetireTarget.keys(of: st), operation: "open", path: path)
        }
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            throw DaxError(.notADaxDevice, operation: "open", path: path,
                           message: "is a directory; give a /dev/daxX.Y device or a file")
        case S_IFBLK:
            throw DaxError(.blockDeviceNotMappable, operation: "open", path: path,
                           message: "is a block device (\(cdaxmap_dev_major(UInt64(st.st_rdev))):\(cdaxmap_dev_minor(UInt64(st.st_rdev)))); DAX block devices are not mapped directly: mount the file system with -o dax and map a file on it, or reconfigure the namespace as devdax (ndctl create-namespace -f -e NAMESPACE -m devdax)")
        case S_IFCHR:
            return try openDeviceDax(path, st, options)
        case S_IFREG:
            return try openFile(path, options)
        default:
            throw DaxError(.notADaxDevice, operation: "open", path: path,
                           message: "is neither a device-dax character device nor a regular file")
        }
    }

    /// Creates (or reuses) a plain file of `size` bytes at `path` and opens it as
    /// an emulated device: the embedded default where no DAX hardware exists.
    /// An existing file shorter than `size` is extended with zeros.
    /// `options` are the device's, as for ``open(_:options:)`` (a removal
    /// deadline, say), so the file need not be opened twice.
    /// - Throws: `.invalidArgument` for a zero size, plus what ``open(_:options:)`` throws.
    public static func createEmulated(at path: String, size: UInt64,
                                      options: OpenOptions = OpenOptions()) throws(DaxError) -> DaxDevice {
        guard size > 0 else {
            throw DaxError(.invalidArgument, operation: "create", path: path, length: 0,
                           message: "an emulated device needs a size greater than zero")
        }
        let fd: CInt
        switch Syscalls.open(path, O_RDWR | O_CREAT, 0o644) {
        case .success(let f): fd = f
        case .failure(let errno): throw openError(path, errno, operation: "create")
        }
        defer { Syscalls.close(fd) }
        if case .success(let st) = Syscalls.status(of: fd), st.st_mode & S_IFMT != S_IFREG {
            throw DaxError(.notADaxDevice, operation: "create", path: path, message: "exists and is not a regular file")
        }
        if case .success(let st) = Syscalls.status(of: fd), UInt64(st.st_size) < size {
            if case .failure(let errno) = Syscalls.ftruncate(fd, Int(size)) {
                throw DaxError(.system, operation: "ftruncate", path: path, length: size, errno: errno,
                               message: "cannot size the emulated device to \(size) bytes")
            }
        }
        return try open(path, options: options)
    }

    static func openError(_ path: String, _ errno: Errno, operation: String) -> DaxError {
        switch errno {
        case .noSuchFileOrDirectory:
            return DaxError(.notFound, operation: operation, path: path, errno: errno, message: "no such file or device")
        case .permissionDenied, .notPermitted:
            return DaxError(.permissionDenied, operation: operation, path: path, errno: errno,
                            message: "permission denied; device-dax nodes are usually root-only (crw-------)")
        case .isDirectory:
            return DaxError(.notADaxDevice, operation: operation, path: path, errno: errno, message: "is a directory")
        default:
            return DaxError(.system, operation: operation, path: path, errno: errno, message: "cannot open: \(errno)")
        }
    }

    private static func openDescriptor(_ path: String, _ options: OpenOptions) throws(DaxError) -> (CInt, stat) {
        let fd: CInt
        switch Syscalls.open(path, options.readOnly ? O_RDONLY : O_RDWR) {
        case .success(let f): fd = f
        case .failure(let errno): throw openError(path, errno, operation: "open")
        }
        switch Syscalls.status(of: fd) {
        case .success(let st): return (fd, st)
        case .failure(let errno):
            Syscalls.close(fd)
            throw DaxError(.system, operation: "fstat", path: path, errno: errno, message: "cannot stat the opened file")
        }
    }

    private static func openDeviceDax(_ path: String, _ pathStat: stat, _ options: OpenOptions) throws(DaxError) -> DaxDevice {
        let maj = cdaxmap_dev_major(UInt64(pathStat.st_rdev)), min = cdaxmap_dev_minor(UInt64(pathStat.st_rdev))
        let sysfs = "/sys/dev/char/\(maj):\(min)"
        let subsystem = Sysfs.subsystem(ofCharDevice: maj, minor: min)
        guard subsystem == "dax" else {
            throw DaxError(.notADaxDevice, operation: "open", path: path,
                           message: "is a character device (\(maj):\(min)) of subsystem '\(subsystem ?? "unknown")', not device-dax")
        }
        if options.simulatedDomain != nil {
            throw DaxError(.invalidArgument, operation: "open", path: path,
                           message: "a simulated persistence domain needs an emulated device (a plain file), not device-dax: real memory cannot be made to forget")
        }
        // Size and alignment from libdaxctl (daxctl_dev_get_align also covers CXL and
        // hmem devices, which have no nd namespace); sysfs if libdaxctl cannot see it.
        let lookup = DeviceLookup(major: maj, minor: min)
        let info = lookup.device
        // In system-ram mode the node stays but nothing is behind it (open: ENXIO): say what it is.
        let driver = Sysfs.driver(ofCharDevice: maj, minor: min)
        if info?.mode == .systemRAM || (driver != nil && !Sysfs.servesDeviceDax(driver: driver)) {
            throw systemRAMError(path, info, name: info?.name ?? Sysfs.lastComponent(sysfs) ?? path)
        }
        let (fd, st) = try openDescriptor(path, options)
        let size = info?.size ?? Sysfs.number(sysfs + "/size") ?? 0
        let align = info?.align ?? Sysfs.number(sysfs + "/align") ?? UInt64(Syscalls.pageSize)
        let numa = info?.targetNode ?? Sysfs.number(sysfs + "/target_node").map { Int($0) }
        let granularity: StoreGranularity = lookup.persistenceDomain == .cpuCache ? .byte : .cacheLine
        if let required = options.requiredGranularity, granularity > required {
            Syscalls.close(fd)
            throw DaxError(.mapSyncUnsupported, operation: "open", path: path,
                           message: "needs \(granularity) granularity, finer than \(required) is not available")
        }
        return DaxDevice(
            path: path, kind: .deviceDax, size: size, alignment: max(align, UInt64(Syscalls.pageSize)),
            granularity: granularity, numaNode: numa,
            badblocks: lookup.badblocks, eventIdentity: try? DaxDeviceIdentity.resolve(path: path),
            identity: FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), rdev: UInt64(st.st_rdev)),
            options: options, useMapSync: false, descriptor: fd)
    }

    /// The refusal of a device in system-ram mode: what it is (its NUMA node, how much
    /// of it is online) and the two ways on (its node, or back to devdax).
    static func systemRAMError(_ path: String, _ info: DaxDeviceInfo?, name: String) -> DaxError {
        let node = info?.targetNode.map(String.init)
        var what = "kmem hot-plugged its memory as system RAM"
        var facts: [String] = []
        if let node { facts.append("NUMA node \(node)") }
        if let ram = info?.systemRAM {
            facts.append("\(ram.onlineBlocks) of \(ram.totalBlocks) memory blocks online"
                + (ram.movable.map { $0 ? ", movable" : ", not movable" } ?? ""))
        }
        if !facts.isEmpty { what += " (" + facts.joined(separator: ", ") + ")" }
        let back = info?.systemRAM?.onlineBlocks == 0
            ? "daxctl reconfigure-device --mode=devdax \(name)"
            : "daxctl offline-memory \(name), then daxctl reconfigure-device --mode=devdax \(name)"
        let use = node.map { "use the memory through NUMA node \($0) (numactl --membind=\($0), mbind)" }
            ?? "use the memory through its NUMA node"
        return DaxError(.systemRAM, operation: "open", path: path,
                        message: "\(name) is in system-ram mode: \(what), so there is no device-dax memory to map; \(use), or make it devdax again: \(back)")
    }

    private static func openFile(_ path: String, _ options: OpenOptions) throws(DaxError) -> DaxDevice {
        let (fd, st) = try openDescriptor(path, options)
        let page = UInt64(Syscalls.pageSize)
        let onDax = FileProbe.isDax(fd)
        var granularity: StoreGranularity = .page
        var useMapSync = false
        var eventIdentity: DaxDeviceIdentity?
        if onDax {
            // The block device under the file system: its sysfs path catches pfn/region unbinds.
            eventIdentity = try? DaxDeviceIdentity.resolve(path: path)
            switch FileProbe.mapSync(fd, readOnly: options.readOnly) {
            case .success:
                granularity = .cacheLine
                useMapSync = true
            case .failure(let errno):
                if options.unsafeCacheLinePersistence {
                    Syscalls.close(fd)
                    throw DaxError(.invalidArgument, operation: "open", path: path, errno: errno,
                                   message: "unsafeCacheLinePersistence is for emulated devices: this file is on a DAX mount that refuses MAP_SYNC (\(errno)), where only msync makes data durable")
                }
                if options.requiredGranularity != .page {
                    Syscalls.close(fd)
                    throw DaxError(.mapSyncUnsupported, operation: "mmap", path: path, errno: errno,
                                   message: "the file is on a DAX mount but MAP_SYNC was refused (\(errno)); allow page granularity (requiredGranularity: .page) to fall back to msync")
                }
            }
        } else if let simulation = options.simulatedDomain {
            if options.unsafeCacheLinePersistence {
                Syscalls.close(fd)
                throw DaxError(.invalidArgument, operation: "open", path: path,
                               message: "unsafeCacheLinePersistence and a simulated persistence domain exclude each other: the simulation decides the granularity")
            }
            // The simulation decides the granularity of an emulated device.
            granularity = simulation.granularity
            if let required = options.requiredGranularity, granularity > required {
                Syscalls.close(fd)
                throw DaxError(.invalidArgument, operation: "open", path: path,
                               message: "the simulation is \(granularity) granular, coarser than the \(required) granularity required")
            }
        } else if options.unsafeCacheLinePersistence {
            // Benchmarking only (libpmem's PMEM_IS_PMEM_FORCE=1): flush and fence, no msync.
            if options.requiredGranularity == .byte {
                Syscalls.close(fd)
                throw DaxError(.invalidArgument, operation: "open", path: path,
                               message: "unsafeCacheLinePersistence gives cache-line granularity, coarser than the byte granularity required")
            }
            granularity = .cacheLine
        } else if let required = options.requiredGranularity, required < .page {
            let errno: Errno
            switch FileProbe.mapSync(fd, readOnly: options.readOnly) {
            case .success: errno = .notSupported
            case .failure(let e): errno = e
            }
            Syscalls.close(fd)
            throw DaxError(.mapSyncUnsupported, operation: "mmap", path: path, errno: errno,
                           message: "\(required) granularity needs MAP_SYNC, which this file system refuses (\(errno)): the file is not on a DAX mount (mount -o dax), use a /dev/daxX.Y device, or accept page granularity")
        }
        if onDax, options.simulatedDomain != nil {
            Syscalls.close(fd)
            throw DaxError(.invalidArgument, operation: "open", path: path,
                           message: "a simulated persistence domain needs an emulated device (a plain file), not a file on a DAX mount")
        }
        if !onDax {
            // A malformed injection sidecar is refused here, not ignored at map time.
            do throws(DaxError) { try EmulatedFailures.current?.validate(devicePath: path) } catch {
                Syscalls.close(fd)
                throw error
            }
        }
        var domain: (any SimulatedPersistenceDomain)?
        if let simulation = options.simulatedDomain {
            do throws(DaxError) {
                domain = try simulation.make(path, fd, UInt64(st.st_size))
            } catch {
                Syscalls.close(fd)
                throw error
            }
        }
        return DaxDevice(
            path: path, kind: onDax ? .fsdaxFile : .emulated, size: UInt64(st.st_size), alignment: page,
            granularity: granularity, numaNode: nil,
            badblocks: onDax ? FileBadblocks.of(fd, device: UInt64(st.st_dev)) : [], eventIdentity: eventIdentity,
            identity: FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), rdev: 0),
            options: options, useMapSync: useMapSync, descriptor: fd, domain: domain)
    }
}
