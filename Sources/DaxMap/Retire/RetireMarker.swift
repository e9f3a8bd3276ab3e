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
    static func userDirectory(uid: uid_t = Syscalls.userID()) -> String { "/tmp/daxmap-\(uid)/retire" }

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
        let me = "\(Syscalls.processID())\n\(HolderScan.command(of: Syscalls.processID()) ?? "?")\n"
        var lastHolder: Retirer?
        for _ in 0..<200 {
            let fd: CInt
            switch Syscalls.open(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0o644) {
            case .success(let f): fd = f
            case .failure(let errno):
                throw DaxError(.system, operation: "retire", path: path, errno: errno,
                               message: "cannot create the retire marker (\(errno))")
            }
            // The mode only lets other uids read who retires (the umask may hide it);
            // the freeze is the lock, which works whatever the mode.
            _ = Syscalls.chmod(fd, mode: 0o644)
            if case .failure = Syscalls.flock(fd, LOCK_EX | LOCK_NB) {
                // Another retirer, or a process checking the marker this instant.
                lastHolder = read(fd)
                Syscalls.close(fd)
                Syscalls.sleep(.milliseconds(10))
                continue
            }
            // A checker may have unlinked a stale marker between our open and our lock.
            guard case .success(let mine) = Syscalls.status(of: fd),
                  case .success(let named) = Syscalls.status(ofPath: path),
                  mine.st_ino == named.st_ino && mine.st_dev == named.st_dev else {
                Syscalls.close(fd)
                continue
            }
            // A checker that finds the marker locked reads who holds it; a marker it
            // cannot read does not freeze it, so a failed write is a failed retire.
            var text = me
            let written = Syscalls.ftruncate(fd, 0).flatMap { text.withUTF8 { Syscalls.writeAll(fd, UnsafeRawBufferPointer($0), at: 0) } }
            if case .failure(let errno) = written {
                let marker = RetireMarker(path: path, fd: fd)
                marker.release()
                throw DaxError(.system, operation: "retire", path: path, errno: errno,
                               message: "cannot write the retire marker (\(errno))")
            }
            return RetireMarker(path: path, fd: fd)
        }
        throw DaxError(.deviceGoing, operation: "retire", path: target,
                       message: "another retire of it is under way\(lastHolder.map { " (by \($0))" } ?? ""); wait for it to finish")
    }

    /// Ends the freeze: unlinks the marker, then drops the lock.
    func release() {
        // Unlinked first so no checker meets it after the lock drops; if unlinking
        // fails, the file stays unlocked, and the next checker unlinks it as stale.
        _ = Syscalls.unlink(path)
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
                if case .failure(let errno) = Syscalls.flock(fd, LOCK_SH | LOCK_NB) {
                    if errno == .wouldBlock, let retirer = read(fd) { return retirer }
                    continue
                }
                // Stale: unlink while holding the shared lock, so a new retirer
                // that opened this file sees it unlinked once it gets its lock.
                // Failing (another checker unlinked it first) leaves nothing to do.
                _ = Syscalls.unlink(path)
            }
        }
        return nil
    }

    private static func read(_ fd: CInt) -> Retirer? {
        var buffer = [UInt8](repeating: 0, count: 256)
        guard case .success(let n) = buffer.withUnsafeMutableBytes({ Syscalls.read(fd, into: $0, at: 0) }), n > 0 else {
            return nil
        }
        let lines = String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n")
        guard let first = lines.first, let pid = Int32(first) else { return nil }
        return Retirer(pid: pid, command: lines.count > 1 ? String(lines[1]) : "?")
    }

    /// `/run/daxmap/retire` and the caller's own `/tmp/daxmap-<uid>/retire`
    /// (only when that one belongs to the caller: not a trap set by someone else).
    private static func watchedDirectories() -> [String] {
        var directories = [systemDirectory]
        let mine = userDirectory()
        if case .success(let st) = Syscalls.status(ofLink: String(mine.dropLast("/retire".count))),
           st.st_uid == Syscalls.userID(), st.st_mode & S_IFMT == S_IFDIR {
            directories.append(mine)
        }
        return directories
    }

    /// Where this process writes markers: `/run/daxmap/retire` when it can, else
    /// `/tmp/daxmap-<uid>/retire` (directories 0755, owned by the caller).
    private static func runtimeDirectory(target: String) throws(DaxError) -> String {
        if case .success = makeDirectories(["/run/daxmap", systemDirectory]), Syscalls.isWritable(systemDirectory) {
            return systemDirectory
        }
        let top = String(userDirectory().dropLast("/retire".count))
        if case .failure(let errno) = makeDirectories([top, userDirectory()]) {
            throw DaxError(.system, operation: "retire", path: userDirectory(), errno: errno,
                           message: "cannot create a runtime directory for the retire marker (neither /run/daxmap nor \(top) is writable)")
        }
        guard case .success(let st) = Syscalls.status(ofLink: top), st.st_uid == Syscalls.userID(), st.st_mode & S_IFMT == S_IFDIR else {
            throw DaxError(.permissionDenied, operation: "retire", path: top,
                           message: "the runtime directory exists but is not a directory owned by uid \(Syscalls.userID()); remove it")
        }
        return userDirectory()
    }

    private static func makeDirectories(_ paths: [String]) -> Result<Void, Errno> {
        for path in paths {
            switch Syscalls.makeDirectory(path, mode: 0o755) {
            case .success:
                // 0755 whatever the umask, so other uids can read markers; a failure
                // leaves the umask's mode, which only hides who retires.
                _ = Syscalls.chmod(path, mode: 0o755)
            case .failure(.fileExists): continue
            case .failure(let errno): return .failure(errno)
            }
        }
        return .success(())
    }
}
