import Glibc
import SystemPackage

// Every libc call of the library goes through here: EINTR and errno are
// handled in one place, and errno is read right after the call.

/// Runs `body` until it stops failing with EINTR; returns its value or the errno.
@inline(__always)
func retryingOnInterrupt<T: BinaryInteger>(_ body: () -> T) -> Result<T, Errno> {
    while true {
        let value = body()
        if value != -1 { return .success(value) }
        let error = Errno(rawValue: Glibc.errno)
        if error != .interrupted { return .failure(error) }
    }
}

enum Syscalls {
    static func open(_ path: String, _ flags: CInt, _ mode: mode_t = 0) -> Result<CInt, Errno> {
        retryingOnInterrupt { Glibc.open(path, flags | O_CLOEXEC, mode) }
    }

    /// close(2) is never retried: on Linux the descriptor is gone even after EINTR.
    static func close(_ fd: CInt) {
        _ = Glibc.close(fd)
    }

    static func status(of fd: CInt) -> Result<Glibc.stat, Errno> {
        var st = Glibc.stat()
        if Glibc.fstat(fd, &st) != 0 { return .failure(Errno(rawValue: Glibc.errno)) }
        return .success(st)
    }

    static func status(ofPath path: String) -> Result<Glibc.stat, Errno> {
        var st = Glibc.stat()
        if statPath(path, &st) != 0 { return .failure(Errno(rawValue: Glibc.errno)) }
        return .success(st)
    }

    static func ftruncate(_ fd: CInt, _ size: Int) -> Result<Void, Errno> {
        retryingOnInterrupt { Glibc.ftruncate(fd, off_t(size)) }.map { _ in () }
    }

    static func mmap(
        _ addr: UnsafeMutableRawPointer?, _ length: Int, _ prot: CInt, _ flags: CInt, _ fd: CInt, _ offset: Int
    ) -> Result<UnsafeMutableRawPointer, Errno> {
        guard let p = Glibc.mmap(addr, length, prot, flags, fd, off_t(offset)), p != MAP_FAILED else {
            return .failure(Errno(rawValue: Glibc.errno))
        }
        return .success(p)
    }

    /// munmap of our own mapping can only fail through a bug of ours.
    static func munmap(_ addr: UnsafeMutableRawPointer, _ length: Int) {
        let r = Glibc.munmap(addr, length)
        precondition(r == 0, "munmap(\(addr), \(length)) failed: errno \(Glibc.errno)")
    }

    static func msync(_ addr: UnsafeMutableRawPointer, _ length: Int, _ flags: CInt) -> Result<Void, Errno> {
        retryingOnInterrupt { Glibc.msync(addr, length, flags) }.map { _ in () }
    }

    static func madvise(_ addr: UnsafeMutableRawPointer, _ length: Int, _ advice: CInt) -> Result<Void, Errno> {
        retryingOnInterrupt { Glibc.madvise(addr, length, advice) }.map { _ in () }
    }

    /// Reads a whole small text file (sysfs attributes). nil if it cannot be read.
    static func readText(_ path: String, limit: Int = 65536) -> String? {
        guard case .success(let fd) = open(path, O_RDONLY) else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let n = buffer.withUnsafeMutableBytes { b in
                retryingOnInterrupt { Glibc.read(fd, b.baseAddress, b.count) }
            }
            guard case .success(let count) = n else { return nil }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// readlink(2) resolved to an absolute canonical path (realpath(3)).
    static func realpath(_ path: String) -> String? {
        guard let p = Glibc.realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// Where a symbolic link points, unresolved (sysfs `driver` links are relative).
    static func readlink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = Glibc.readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// An open-file-description lock (`F_OFD_SETLK`, never waiting) of `type`
    /// (`F_WRLCK`, `F_RDLCK`, `F_UNLCK`) on bytes `range` of `fd`'s file.
    /// EAGAIN (or EACCES): another open file description holds a conflicting lock.
    static func ofdLock(_ fd: CInt, type: CInt, _ range: Range<UInt64>) -> Result<Void, Errno> {
        var lock = flock()
        lock.l_type = CShort(type)
        lock.l_whence = CShort(SEEK_SET)
        lock.l_start = off_t(range.lowerBound)
        lock.l_len = off_t(range.upperBound - range.lowerBound)
        lock.l_pid = 0 // OFD locks require 0
        return retryingOnInterrupt { Glibc.fcntl(fd, ofdSetLock, &lock) }.map { _ in () }
    }

    /// F_OFD_SETLK (Linux 3.15): Glibc exports it only under _GNU_SOURCE.
    private static let ofdSetLock: CInt = 37

    /// The names in a directory (without `.` and `..`), or the errno of opening it.
    static func directoryEntries(_ path: String) -> Result<[String], Errno> {
        guard let dir = opendir(path) else { return .failure(Errno(rawValue: Glibc.errno)) }
        defer { _ = closedir(dir) } // a directory stream only read: nothing to lose on close
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return .success(names)
    }

    static func processID() -> Int32 { getpid() }

    /// Runs `handler` when the process exits through `exit` (or returns from main).
    static func atExit(_ handler: @convention(c) () -> Void) {
        // Fails only when the table of handlers is full: the handler is then not run, and nothing else changes.
        _ = atexit(handler)
    }

    /// Read once: every page-granular persist rounds with it.
    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
}

// Outside the enum, so `stat` names the function rather than the struct.
private func statPath(_ path: String, _ st: inout Glibc.stat) -> CInt {
    stat(path, &st)
}
