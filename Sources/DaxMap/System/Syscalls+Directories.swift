internal import CDaxMap
import Glibc
import SystemPackage

/// Descriptor-relative calls (`*at`) and process descriptors, for work that
/// must not follow a name another user could replace (the retire channel's
/// directory and sockets).
extension Syscalls {
    /// openat(2), always with `O_CLOEXEC`.
    package static func open(at directory: CInt, _ name: String, _ flags: CInt, _ mode: mode_t = 0) -> Result<CInt, Errno> {
        retryingOnInterrupt { Glibc.openat(directory, name, flags | O_CLOEXEC, mode) }
    }

    /// mkdirat(2).
    package static func makeDirectory(at directory: CInt, _ name: String, mode: mode_t) -> Result<Void, Errno> {
        checked(Glibc.mkdirat(directory, name, mode)).map { _ in () }
    }

    /// unlinkat(2) of a non-directory.
    package static func unlink(at directory: CInt, _ name: String) -> Result<Void, Errno> {
        checked(Glibc.unlinkat(directory, name, 0)).map { _ in () }
    }

    /// fstatat(2) with `AT_SYMLINK_NOFOLLOW`: a link is described, not followed.
    package static func status(at directory: CInt, _ name: String) -> Result<Glibc.stat, Errno> {
        var st = Glibc.stat()
        if Glibc.fstatat(directory, name, &st, AT_SYMLINK_NOFOLLOW) != 0 { return .failure(lastError) }
        return .success(st)
    }

    /// `O_PATH` (Glibc's module leaves it out): a descriptor that names a file without opening it.
    package static let pathOnly: CInt = 0o10000000

    /// The effective uid (what the kernel checks a file's owner against).
    package static func effectiveUserID() -> uid_t { geteuid() }

    /// pidfd_open(2): a descriptor that polls readable when the process exits.
    package static func processDescriptor(_ pid: Int32) -> Result<CInt, Errno> {
        let fd = cdaxmap_pidfd_open(pid)
        return fd >= 0 ? .success(fd) : .failure(Errno(rawValue: -fd))
    }
}
