internal import CDaxMap
import Glibc
import SystemPackage

/// The last step of a retire, once the holders let go: disable or unbind
/// the target, or say why that is the operator's to do.
enum RetireRemoval {
    static func perform(_ removal: DaxRetirement.Removal, _ target: RetireTarget,
                        stillHeld: [DaxHolderProcess], unseen: Int = 0) -> DaxRetirementReport.Outcome {
        if removal == .none { return .notRequested }
        if unseen > 0 {
            return .withheld("\(unseen) process(es) could not be inspected (other users'; retire as root): any may still hold it, so nothing was removed")
        }
        if !stillHeld.isEmpty {
            return .withheld("\(stillHeld.count) process(es) still hold it (\(stillHeld.map(\.summary).joined(separator: "; "))); nothing was removed under them")
        }
        let major = cdaxmap_dev_major(target.device), minor = cdaxmap_dev_minor(target.device)
        switch (removal, target.kind) {
        case (.disable, .charDevice):
            guard let name = Sysfs.devicePath(ofCharDevice: major, minor: minor).flatMap(Sysfs.lastComponent) else {
                return .failed(DaxError(.notFound, operation: "disable", path: target.path,
                                        message: "no sysfs entry for \(major):\(minor); is it already gone?"))
            }
            switch Daxctl.disable(device: name) {
            case .success: return .removed("disabled \(name) (daxctl enable-device \(name) brings it back)")
            case .failure(let error): return .failed(error)
            }
        case (.unbind, .charDevice):
            return unbind(sysfs: "/sys/dev/char/\(major):\(minor)", target.path)
        case (.unbind, .blockDevice), (.unbind, .mount):
            // Unbinding under a mounted file system is what livelocks 7.2 (XFS) and
            // leaves stale mappings (ext4): the unmount comes first, and is the operator's.
            if let mountPoint = mountPoint(major: major, minor: minor) {
                return .leftToOperator("\(major):\(minor) is mounted at \(mountPoint): unmount it, then unbind (daxmap does not unmount)")
            }
            return unbind(sysfs: "/sys/dev/block/\(major):\(minor)/device", target.path)
        case (.unmountUnbind, .charDevice):
            return unbind(sysfs: "/sys/dev/char/\(major):\(minor)", target.path)
        case (.unmountUnbind, .blockDevice), (.unmountUnbind, .mount):
            // Innermost first: a mount stacked on one of ours would keep it busy.
            for mountPoint in mountPoints(major: major, minor: minor).reversed() {
                if case .failure(let errno) = Syscalls.unmount(mountPoint) {
                    let why = errno == .resourceBusy
                        ? "it is busy: a process's working directory or an open file is in it (fuser -vm \(mountPoint)); nothing was unbound"
                        : "umount failed (\(errno)); nothing was unbound"
                    return .failed(DaxError(errno == .resourceBusy ? .busy : .system, operation: "unmount",
                                            path: mountPoint, errno: errno, message: why))
                }
            }
            return unbind(sysfs: "/sys/dev/block/\(major):\(minor)/device", target.path)
        case (.disable, .blockDevice), (.disable, .mount):
            return .leftToOperator("a file system device (\(major):\(minor)): unmount it, then 'ndctl disable-namespace' its namespace; daxmap does not unmount")
        case (_, .file):
            return .leftToOperator("a file is not a device: delete or truncate it, or retire its mount or /dev/daxX.Y")
        case (.none, _):
            return .notRequested
        }
    }

    /// Where the block device `major:minor` is mounted (`/proc/self/mountinfo`), if anywhere.
    static func mountPoint(major: UInt32, minor: UInt32, mountinfo: String? = Syscalls.readText("/proc/self/mountinfo", limit: 1 << 20)) -> String? {
        mountPoints(major: major, minor: minor, mountinfo: mountinfo).first
    }

    /// Every mount of the block device `major:minor`, in mount order, with the
    /// kernel's octal escapes (`\040` for a space) undone.
    static func mountPoints(major: UInt32, minor: UInt32, mountinfo: String? = Syscalls.readText("/proc/self/mountinfo", limit: 1 << 20)) -> [String] {
        (mountinfo ?? "").split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 4, fields[2] == "\(major):\(minor)" else { return nil }
            return unescaped(fields[4])
        }
    }

    /// `\ooo` octal escapes of mountinfo undone.
    static func unescaped(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var rest = Array(field.utf8)[...]
        while let b = rest.popFirst() {
            if b == UInt8(ascii: "\\"), rest.count >= 3, rest.prefix(3).allSatisfy({ (48...55).contains($0) }) {
                let digits = rest.prefix(3).map { Int($0) - 48 }
                bytes.append(UInt8(truncatingIfNeeded: digits[0] * 64 + digits[1] * 8 + digits[2]))
                rest = rest.dropFirst(3)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes the device's name to its driver's `unbind`.
    private static func unbind(sysfs device: String, _ path: String) -> DaxRetirementReport.Outcome {
        guard let resolved = Syscalls.realpath(device), let name = Sysfs.lastComponent(resolved) else {
            return .failed(DaxError(.notFound, operation: "unbind", path: path,
                                    message: "\(device) does not exist: no sysfs device to unbind"))
        }
        guard let driver = Syscalls.realpath(resolved + "/driver") else {
            return .failed(DaxError(.notFound, operation: "unbind", path: path,
                                    message: "\(name) is bound to no driver (already unbound?)"))
        }
        let unbind = driver + "/unbind"
        let fd: CInt
        switch Syscalls.open(unbind, O_WRONLY) {
        case .success(let f): fd = f
        case .failure(let errno):
            let why = errno == .readOnlyFileSystem ? "/sys is mounted read-only (a container?)" : "\(errno)"
            return .failed(DaxError(errno == .readOnlyFileSystem || errno == .permissionDenied ? .permissionDenied : .system,
                                    operation: "unbind", path: unbind, errno: errno,
                                    message: "cannot open the driver's unbind file: \(why)"))
        }
        defer { Syscalls.close(fd) }
        var bytes = name
        let written = bytes.withUTF8 { Syscalls.write(fd, UnsafeRawBufferPointer($0)) }
        if case .failure(let errno) = written {
            return .failed(DaxError(.system, operation: "unbind", path: unbind, errno: errno,
                                    message: "the kernel refused to unbind \(name): \(errno)"))
        }
        return .removed("unbound \(name) from \(Sysfs.lastComponent(driver) ?? driver) (write \(name) to \(driver)/bind to bring it back)")
    }
}
