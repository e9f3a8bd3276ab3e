import Glibc
import SystemPackage

// Calls relative to an open directory: a file daxmap creates or replaces next
// to another is named inside a directory opened once, so no path component
// swapped for a symbolic link in between can send the write elsewhere.
extension Syscalls {
    /// openat(2) (`O_CLOEXEC` added).
    package static func open(in directory: CInt, _ name: String, _ flags: CInt, _ mode: mode_t = 0) -> Result<CInt, Errno> {
        retryingOnInterrupt { Glibc.openat(directory, name, flags | O_CLOEXEC, mode) }
    }

    /// renameat(2) within one directory: replaces `to` (a symbolic link there
    /// is replaced, never followed).
    package static func rename(in directory: CInt, _ from: String, to: String) -> Result<Void, Errno> {
        checked(Glibc.renameat(directory, from, directory, to)).map { _ in () }
    }

    /// unlinkat(2) of a file (a symbolic link is removed itself, never followed).
    package static func unlink(in directory: CInt, _ name: String) -> Result<Void, Errno> {
        checked(Glibc.unlinkat(directory, name, 0)).map { _ in () }
    }

    /// Reads `fd` to its end, at most `limit` bytes (`.fileTooLarge` past it).
    package static func readAll(_ fd: CInt, limit: Int) -> Result<[UInt8], Errno> {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            switch buffer.withUnsafeMutableBytes({ read(fd, into: $0) }) {
            case .failure(let errno): return .failure(errno)
            case .success(0): return .success(bytes)
            case .success(let count):
                guard bytes.count + count <= limit else { return .failure(.fileTooLarge) }
                bytes.append(contentsOf: buffer[0..<count])
            }
        }
    }
}
