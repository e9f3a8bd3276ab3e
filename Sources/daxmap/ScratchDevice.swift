import DaxMap
import Glibc

/// Where a command that rewrites a device file at will (crash-test) may put it:
/// a scratch file it made in a directory (removed at the end), or a new file
/// it created (kept). Never a file that existed before.
struct ScratchDevice: Sendable {
    let path: String
    /// Created at a path the user named: left in place at the end.
    let kept: Bool

    /// - Parameter given: a directory, a path that does not exist yet, or nil ($TMPDIR, else /tmp).
    /// - Throws: `.invalidArgument` for an existing file (or anything not a directory),
    ///   `.notFound` when the folder does not exist, `.permissionDenied`, `.system`.
    init(_ given: String?) throws(DaxError) {
        let folder: String
        if let given {
            var st = stat()
            if lstat(given, &st) == 0 {
                guard st.st_mode & S_IFMT == S_IFDIR else {
                    throw DaxError(.invalidArgument, operation: "crash-test", path: given,
                                   message: "exists and is not a directory: crash-test rewrites its device at every cycle, so it never takes an existing file; give a directory or a new file name")
                }
                folder = given
            } else {
                let fd = open(given, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
                guard fd >= 0 else { throw Self.error(given, errno, "cannot create the device file") }
                close(fd)
                path = given
                kept = true
                return
            }
        } else {
            folder = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        }
        var template = Array((folder + "/daxmap-crash-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw Self.error(folder, errno, "cannot make a scratch device in this directory") }
        close(fd)
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        kept = false
    }

    /// Removes a scratch device (a kept one stays).
    func finish() {
        if !kept { unlink(path) }
    }

    private static func error(_ path: String, _ code: CInt, _ what: String) -> DaxError {
        let reason = String(cString: strerror(code))
        switch code {
        case ENOENT: return DaxError(.notFound, operation: "crash-test", path: path, message: "\(what): the folder does not exist")
        case EACCES, EPERM, EROFS: return DaxError(.permissionDenied, operation: "crash-test", path: path, message: "\(what): \(reason)")
        default: return DaxError(.system, operation: "crash-test", path: path, message: "\(what): \(reason)")
        }
    }
}
