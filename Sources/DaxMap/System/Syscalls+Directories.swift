internal import CDaxMap
import Glibc
import SystemPackage

/// Descriptor-relative calls (`*at`) and process descriptors, for work that
/// must not follow a name another user could replace: a file daxmap creates or
/// replaces is named inside a directory opened once (the retire channel's
/// directory and sockets, the injection sidecar), so no path component swapped
/// for a symbolic link in between can send the write elsewhere.
extension Syscalls {
    /// openat(2), always with `O_CLOEXEC`.
    package static func open(at directory: CInt, _ name: String, _ flags: CInt, _ mode: mode_t = 0) -> Result<CInt, Errno> {
        retryingOnInterrupt { Glibc.openat(directory, name, flags | O_CLOEXEC, mode) }
    }

    /// renameat(2) within one directory: replaces `to` (a symbolic link there
    /// is replaced, never followed).
    package static func rename(at directory: CInt, _ from: String, to: String) -> Result<Void, Errno> {
        checked(Glibc.renameat(directory, from, directory, to)).map { _ in () }
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
