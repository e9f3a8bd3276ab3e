import DaxMap
import Glibc

/// Where a command that rewrites a device file at will (crash-test) may put it:
/// a scratch file it made in a directory, or a new file it created (kept).
/// Never a file that existed before.
///
/// The file is opened once, when it is created (`O_CREAT|O_EXCL|O_NOFOLLOW`),
/// and from then on reached only through that descriptor (``devicePath`` is
/// `/proc/self/fd/N`): a user who renames PATH and puts a symbolic link to
/// another file there changes nothing of that file (issue 26). A scratch file
/// is unlinked at once, so there is nothing to remove at the end, even after
/// SIGKILL.
struct ScratchDevice: Sendable {
    /// The name the file was created under, for messages.
    let path: String
    /// Created at a path the user named: left in place at the end.
    let kept: Bool
    /// The descriptor everything works through.
    let descriptor: CInt

    /// The file behind ``descriptor``, by a name nobody else can change.
    var devicePath: String { "/proc/self/fd/\(descriptor)" }

    /// - Parameter given: a directory, a path that does not exist yet, or nil ($TMPDIR, else /tmp).
    /// - Throws: `.invalidArgument` for an existing file (or anything not a directory),
    ///   `.notFound` when the folder does not exist, `.permissionDenied`, `.system`.
    init(_ given: String?) throws(DaxError) {
        let folder: String
        if let given {
            switch Syscalls.status(ofLink: given) {
            case .success(let st):
                guard st.st_mode & S_IFMT == S_IFDIR else {
                    throw DaxError(.invalidArgument, operation: "crash-test", path: given,
                                   message: "exists and is not a directory: crash-test rewrites its device at every cycle, so it never takes an existing file; give a directory or a new file name")
                }
                folder = given
            case .failure:
                switch Syscalls.open(given, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600) {
                case .success(let fd): descriptor = fd
                case .failure(let errno): throw Self.error(given, errno, "cannot create the device file", folderExists: false)
                }
                path = given
                kept = true
                try Self.checkReachable(descriptor, path)
                return
            }
        } else {
            folder = Syscalls.environment("TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        }
        var random = SystemRandomNumberGenerator()
        var made: (CInt, String)?
        for _ in 0..<16 where made == nil {
            let name = folder + "/daxmap-crash-" + String(random.next() as UInt64, radix: 36)
            switch Syscalls.open(name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600) {
            case .success(let fd): made = (fd, name)
            case .failure(.fileExists): continue
            case .failure(let errno): throw Self.error(folder, errno, "cannot make a scratch device in this directory", folderExists: true)
            }
        }
        guard let made else {
            throw DaxError(.system, operation: "crash-test", path: folder, message: "cannot make a scratch device in this directory: 16 new names taken at once")
        }
        (descriptor, path) = made
        kept = false
        // Ours (O_EXCL above), and never needed by name again.
        _ = Syscalls.unlink(path)
        try Self.checkReachable(descriptor, path)
    }

    /// /proc/self/fd must reach the file (it does wherever /proc is mounted).
    private static func checkReachable(_ fd: CInt, _ path: String) throws(DaxError) {
        if case .failure(let errno) = Syscalls.status(ofPath: "/proc/self/fd/\(fd)") {
            Syscalls.close(fd)
            throw DaxError(.system, operation: "crash-test", path: path, errno: errno,
                           message: "cannot reach the device file through /proc/self/fd (is /proc mounted?): \(Syscalls.describe(errno))")
        }
    }

    /// Closes the descriptor (a scratch file then disappears; a kept one stays).
    func finish() {
        Syscalls.close(descriptor)
    }

    private static func error(_ path: String, _ code: Syscalls.Failure, _ what: String, folderExists: Bool) -> DaxError {
        let reason = Syscalls.describe(code)
        switch code {
        case .noSuchFileOrDirectory where !folderExists:
            return DaxError(.notFound, operation: "crash-test", path: path, errno: code, message: "\(what): the folder does not exist")
        case .noSuchFileOrDirectory:
            // The directory is there (checked above); its file system takes no new files (/proc, /sys).
            return DaxError(.invalidArgument, operation: "crash-test", path: path, errno: code,
                            message: "\(what): this directory's file system does not take new files (\(reason)); give a directory on a disk or tmpfs")
        case .permissionDenied, .notPermitted, .readOnlyFileSystem:
            return DaxError(.permissionDenied, operation: "crash-test", path: path, errno: code, message: "\(what): \(reason)")
        default:
            return DaxError(.system, operation: "crash-test", path: path, errno: code, message: "\(what): \(reason)")
        }
    }
}
