import Glibc
import SystemPackage

/// The freeze of a planned removal, seen by every process: a marker file
/// `<runtime>/retire/<key>` holding the retirer's pid and command, on which
/// the retirer holds `flock(LOCK_EX)` for as long as the retire runs.
///
/// A process that opens or maps a device tries `flock(LOCK_SH | LOCK_NB)` on
/// the markers of the device's keys: `EWOULDBLOCK` means a retire runs (the
/// file says whose); success means the retirer died (the kernel dropped its
/// lock), so the marker is stale: it is unlinked and ignored. Nothing a
/// killed retirer leaves behind can block the next open or the next retire.
///
/// The runtime directory is `/run/daxmap` where it can be written (root),
/// else `/tmp/daxmap-<uid>`. A process looks at `/run/daxmap` and at the one
/// of its own uid: a retirer of another (unprivileged) uid cannot freeze it,
/// as its requests would be refused anyway.
final class RetireMarker: Sendable {
    static let systemDirectory = "/run/daxmap/retire"
    static func userDirectory(uid: uid_t = getuid()) -> String { "/tmp/daxmap-\(uid)/retire" }

    let path: String
    private let fd: CInt

    private init(path: String, fd: CInt) {
        self.path = path
        self.fd = fd
    }

    /// Who is retiring, as written in a marker.
    struct Retirer: Sendable, Hashable, CustomStringConvertible {
        var pid: Int32
        var command: String
        var description: String { "pid \(pid) (\(command))" }
    }

    /// Creates the marker for `key` and locks it. Throws `.deviceGoing` when
    /// another retire of the same target holds it.
    static func acquire(key: String, target: String) throws(DaxError) -> RetireMarker {
        let directory = try runtimeDirectory(target: target)
        let path = directory + "/" + key
        let me = "\(getpid())\n\(HolderScan.command(of: getpid()) ?? "?")\n"
        var lastHolder: Retirer?
        for _ in 0..<200 {
            let fd: CInt
            switch Syscalls.open(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0o644) {
            case .success(let f): fd = f
            case .failure(let errno):
                throw DaxError(.system, operation: "retire", path: path, errno: errno,
                               message: "cannot create the retire marker (\(errno))")
            }
            _ = fchmod(fd, 0o644)
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                // Another retirer, or a process checking the marker this instant.
                lastHolder = read(fd)
                Syscalls.close(fd)
                usleep(10_000)
                continue
            }
            // A checker may have unlinked a stale marker between our open and our lock.
            guard case .success(let mine) = Syscalls.status(of: fd),
                  case .success(let named) = Syscalls.status(ofPath: path),
                  mine.st_ino == named.st_ino && mine.st_dev == named.st_dev else {
                Syscalls.close(fd)
                continue
            }
            _ = ftruncate(fd, 0)
            _ = me.withCString { pwrite(fd, $0, strlen($0), 0) }
            return RetireMarker(path: path, fd: fd)
        }
        throw DaxError(.deviceGoing, operation: "retire", path: target,
                       message: "another retire of it is under way\(lastHolder.map { " (by \($0))" } ?? ""); wait for it to finish")
    }

    /// Ends the freeze: unlinks the marker, then drops the lock.
    func release() {
        unlink(path)
        Syscalls.close(fd)
    }

    /// The retirer of the first of `keys` that is being retired, if any.
    /// Stale markers (their retirer died) met on the way are unlinked.
    static func retirer(ofAnyOf keys: [String]) -> Retirer? {
        for directory in watchedDirectories() {
            for key in keys {
                let path = directory + "/" + key
                guard case .success(let fd) = Syscalls.open(path, O_RDONLY | O_NOFOLLOW) else { continue }
                defer { Syscalls.close(fd) }
                if flock(fd, LOCK_SH | LOCK_NB) != 0 {
                    if Glibc.errno == EWOULDBLOCK, let retirer = read(fd) { return retirer }
                    continue
                }
                // Stale: unlink while holding the shared lock, so a new retirer
                // that opened this file sees it unlinked once it gets its lock.
                unlink(path)
            }
        }
        return nil
    }

    private static func read(_ fd: CInt) -> Retirer? {
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        let lines = String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n")
        guard let first = lines.first, let pid = Int32(first) else { return nil }
        return Retirer(pid: pid, command: lines.count > 1 ? String(lines[1]) : "?")
    }

    /// `/run/daxmap/retire` and the caller's own `/tmp/daxmap-<uid>/retire`
    /// (only when that one belongs to the caller: not a trap set by someone else).
    private static func watchedDirectories() -> [String] {
        var directories = [systemDirectory]
        let mine = userDirectory()
        var st = stat()
        if lstat(String(mine.dropLast("/retire".count)), &st) == 0, st.st_uid == getuid(),
           st.st_mode & S_IFMT == S_IFDIR {
            directories.append(mine)
        }
        return directories
    }

    /// Where this process writes markers: `/run/daxmap/retire` when it can, else
    /// `/tmp/daxmap-<uid>/retire` (directories 0755, owned by the caller).
    private static func runtimeDirectory(target: String) throws(DaxError) -> String {
        if makeDirectories(["/run/daxmap", systemDirectory]), access(systemDirectory, W_OK) == 0 {
            return systemDirectory
        }
        let top = String(userDirectory().dropLast("/retire".count))
        guard makeDirectories([top, userDirectory()]) else {
            throw DaxError(.system, operation: "retire", path: userDirectory(), errno: Errno(rawValue: Glibc.errno),
                           message: "cannot create a runtime directory for the retire marker (neither /run/daxmap nor \(top) is writable)")
        }
        var st = stat()
        guard lstat(top, &st) == 0, st.st_uid == getuid(), st.st_mode & S_IFMT == S_IFDIR else {
            throw DaxError(.permissionDenied, operation: "retire", path: top,
                           message: "the runtime directory exists but is not a directory owned by uid \(getuid()); remove it")
        }
        return userDirectory()
    }

    private static func makeDirectories(_ paths: [String]) -> Bool {
        for path in paths {
            if mkdir(path, 0o755) == 0 {
                _ = chmod(path, 0o755) // whatever the umask
            } else if Glibc.errno != EEXIST {
                return false
            }
        }
        return true
    }
}
