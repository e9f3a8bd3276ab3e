import Glibc
import SystemPackage

extension Syscalls {
    package static func open(_ path: String, _ flags: CInt, _ mode: mode_t = 0) -> Result<CInt, Errno> {
        retryingOnInterrupt { Glibc.open(path, flags | O_CLOEXEC, mode) }
    }

    /// close(2) is never retried: on Linux the descriptor is gone even after EINTR.
    package static func close(_ fd: CInt) {
        // The only other failures are EBADF (a bug of ours) and EIO from a file
        // system that reports a lost write on close: daxmap's files are synced
        // (persist, fsync) before they close when their contents matter.
        _ = Glibc.close(fd)
    }

    package static func status(of fd: CInt) -> Result<Glibc.stat, Errno> {
        var st = Glibc.stat()
        if Glibc.fstat(fd, &st) != 0 { return .failure(lastError) }
        return .success(st)
    }

    package static func status(ofPath path: String) -> Result<Glibc.stat, Errno> {
        var st = Glibc.stat()
        if statPath(path, &st) != 0 { return .failure(lastError) }
        return .success(st)
    }

    /// lstat(2): the link itself, not what it points at.
    package static func status(ofLink path: String) -> Result<Glibc.stat, Errno> {
        var st = Glibc.stat()
        if Glibc.lstat(path, &st) != 0 { return .failure(lastError) }
        return .success(st)
    }

    package static func ftruncate(_ fd: CInt, _ size: Int) -> Result<Void, Errno> {
        retryingOnInterrupt { Glibc.ftruncate(fd, off_t(size)) }.map { _ in () }
    }

    /// One read(2) into `buffer`: the count read (0 at end of file).
    package static func read(_ fd: CInt, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
        retryingOnInterrupt { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// One pread(2) at `offset`.
    package static func read(_ fd: CInt, into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Result<Int, Errno> {
        retryingOnInterrupt { Glibc.pread(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    /// One write(2): the count written, which may be short.
    package static func write(_ fd: CInt, _ bytes: UnsafeRawBufferPointer) -> Result<Int, Errno> {
        retryingOnInterrupt { Glibc.write(fd, bytes.baseAddress, bytes.count) }
    }

    /// One pwrite(2) at `offset`: the count written, which may be short.
    package static func write(_ fd: CInt, _ bytes: UnsafeRawBufferPointer, at offset: Int) -> Result<Int, Errno> {
        retryingOnInterrupt { Glibc.pwrite(fd, bytes.baseAddress, bytes.count, off_t(offset)) }
    }

    /// Writes all of `bytes` (at `offset` when given), looping over short writes;
    /// a write of nothing is ENOSPC.
    package static func writeAll(_ fd: CInt, _ bytes: UnsafeRawBufferPointer, at offset: Int? = nil) -> Result<Void, Errno> {
        var done = 0
        while done < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[done...])
            let r = offset.map { write(fd, rest, at: $0 + done) } ?? write(fd, rest)
            switch r {
            case .success(0): return .failure(.noSpace)
            case .success(let n): done += n
            case .failure(let e): return .failure(e)
            }
        }
        return .success(())
    }

    package static func fsync(_ fd: CInt) -> Result<Void, Errno> {
        retryingOnInterrupt { Glibc.fsync(fd) }.map { _ in () }
    }

    package static func fdatasync(_ fd: CInt) -> Result<Void, Errno> {
        retryingOnInterrupt { Glibc.fdatasync(fd) }.map { _ in () }
    }

    /// flock(2) `operation` (`LOCK_SH`, `LOCK_EX`, `LOCK_UN`, with `LOCK_NB`).
    /// EWOULDBLOCK: another open file description holds a conflicting lock.
    package static func flock(_ fd: CInt, _ operation: CInt) -> Result<Void, Errno> {
        retryingOnInterrupt { flockFile(fd, operation) }.map { _ in () }
    }

    /// A new descriptor of the same open file description, closed on exec.
    package static func duplicate(_ fd: CInt) -> Result<CInt, Errno> {
        retryingOnInterrupt { Glibc.fcntl(fd, F_DUPFD_CLOEXEC, 0) }
    }

    /// lseek(2): the new offset.
    package static func seek(_ fd: CInt, to offset: Int, _ whence: CInt) -> Result<Int, Errno> {
        checked(Glibc.lseek(fd, off_t(offset), whence)).map { Int($0) }
    }

    package static func unlink(_ path: String) -> Result<Void, Errno> {
        checked(Glibc.unlink(path)).map { _ in () }
    }

    package static func rename(_ from: String, to: String) -> Result<Void, Errno> {
        checked(Glibc.rename(from, to)).map { _ in () }
    }

    package static func makeDirectory(_ path: String, mode: mode_t) -> Result<Void, Errno> {
        checked(Glibc.mkdir(path, mode)).map { _ in () }
    }

    package static func chmod(_ path: String, mode: mode_t) -> Result<Void, Errno> {
        checked(Glibc.chmod(path, mode)).map { _ in () }
    }

    package static func chmod(_ fd: CInt, mode: mode_t) -> Result<Void, Errno> {
        checked(Glibc.fchmod(fd, mode)).map { _ in () }
    }

    /// Whether this process may write `path` (access(2) with `W_OK`).
    package static func isWritable(_ path: String) -> Bool {
        Glibc.access(path, W_OK) == 0
    }

    /// umount2(2) without flags.
    package static func unmount(_ path: String) -> Result<Void, Errno> {
        checked(Glibc.umount2(path, 0)).map { _ in () }
    }

    /// Reads a whole small text file (sysfs attributes). nil if it cannot be read.
    package static func readText(_ path: String, limit: Int = 65536) -> String? {
        guard case .success(let fd) = open(path, O_RDONLY) else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            guard case .success(let count) = buffer.withUnsafeMutableBytes({ read(fd, into: $0) }) else { return nil }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// readlink(2) resolved to an absolute canonical path (realpath(3)).
    package static func realpath(_ path: String) -> String? {
        guard let p = Glibc.realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// Where a symbolic link points, unresolved (sysfs `driver` links are relative).
    package static func readlink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = Glibc.readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// An open-file-description lock (`F_OFD_SETLK`, never waiting) of `type`
    /// (`F_WRLCK`, `F_RDLCK`, `F_UNLCK`) on bytes `range` of `fd`'s file.
    /// EAGAIN (or EACCES): another open file description holds a conflicting lock.
    package static func ofdLock(_ fd: CInt, type: CInt, _ range: Range<UInt64>) -> Result<Void, Errno> {
        var lock = Glibc.flock()
        lock.l_type = CShort(type)
        lock.l_whence = CShort(SEEK_SET)
        lock.l_start = off_t(range.lowerBound)
        lock.l_len = off_t(range.upperBound - range.lowerBound)
        lock.l_pid = 0 // OFD locks require 0
        return retryingOnInterrupt { Glibc.fcntl(fd, ofdSetLock, &lock) }.map { _ in () }
    }

    /// F_OFD_SETLK (Linux 3.15): Glibc exports it only under _GNU_SOURCE.
    private static let ofdSetLock: CInt = 37

    /// Where `d_name` starts in a `dirent`.
    private static let direntNameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!

    /// The names in a directory (without `.` and `..`), or the errno of opening it.
    package static func directoryEntries(_ path: String) -> Result<[String], Errno> {
        guard let dir = opendir(path) else { return .failure(lastError) }
        defer { _ = closedir(dir) } // a directory stream only read: nothing to lose on close
        var names: [String] = []
        while let entry = readdir(dir) {
            // The name is read where it is, up to its NUL: a record is only d_reclen bytes,
            // so copying the 256-byte d_name field reads past the end of a short one.
            let name = String(cString: UnsafeRawPointer(entry).advanced(by: Self.direntNameOffset)
                .assumingMemoryBound(to: CChar.self))
            if name != "." && name != ".." { names.append(name) }
        }
        return .success(names)
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

// Outside the enum, so `stat` names the function rather than the struct.
private func statPath(_ path: String, _ st: inout Glibc.stat) -> CInt {
    stat(path, &st)
}

// Outside the enum, so `flock` names the function rather than the struct.
private func flockFile(_ fd: CInt, _ operation: CInt) -> CInt {
    flock(fd, operation)
}
