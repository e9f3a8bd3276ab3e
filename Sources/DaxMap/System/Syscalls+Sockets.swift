import Glibc
import SystemPackage

extension Syscalls {
    /// socket(2); pass `SOCK_CLOEXEC` in `type`.
    package static func socket(_ domain: CInt, _ type: CInt, _ proto: CInt = 0) -> Result<CInt, Errno> {
        checked(Glibc.socket(domain, type, proto))
    }

    /// socketpair(2): both ends.
    package static func socketPair(_ domain: CInt, _ type: CInt) -> Result<(CInt, CInt), Errno> {
        var pair: [CInt] = [-1, -1]
        guard Glibc.socketpair(domain, type, 0, &pair) == 0 else { return .failure(lastError) }
        return .success((pair[0], pair[1]))
    }

    package static func bind(_ fd: CInt, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Result<Void, Errno> {
        checked(Glibc.bind(fd, address, length)).map { _ in () }
    }

    package static func listen(_ fd: CInt, backlog: CInt) -> Result<Void, Errno> {
        checked(Glibc.listen(fd, backlog)).map { _ in () }
    }

    package static func connect(_ fd: CInt, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Result<Void, Errno> {
        retryingOnInterrupt { Glibc.connect(fd, address, length) }.map { _ in () }
    }

    /// accept(2) of one connection, marked close-on-exec (accept4 is not
    /// imported). EINTR is returned, not retried: the caller loops anyway.
    package static func accept(_ fd: CInt) -> Result<CInt, Errno> {
        let connection = Glibc.accept(fd, nil, nil)
        guard connection >= 0 else { return .failure(lastError) }
        // F_SETFD on a descriptor accept just returned fails only with EBADF, which it is not.
        _ = Glibc.fcntl(connection, F_SETFD, FD_CLOEXEC)
        return .success(connection)
    }

    /// send(2) with `MSG_NOSIGNAL` (a closed peer is EPIPE, not a SIGPIPE): the count sent.
    package static func send(_ fd: CInt, _ bytes: UnsafeRawBufferPointer) -> Result<Int, Errno> {
        retryingOnInterrupt { Glibc.send(fd, bytes.baseAddress, bytes.count, CInt(MSG_NOSIGNAL)) }
    }

    /// recv(2) into `buffer`: the count received (0 at end of stream).
    package static func receive(_ fd: CInt, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
        retryingOnInterrupt { Glibc.recv(fd, buffer.baseAddress, buffer.count, 0) }
    }

    /// recvmsg(2): the count received.
    package static func receiveMessage(_ fd: CInt, _ message: inout msghdr, _ flags: CInt = 0) -> Result<Int, Errno> {
        retryingOnInterrupt { Glibc.recvmsg(fd, &message, flags) }
    }

    /// setsockopt(2) of a plain value.
    package static func setOption<T: BitwiseCopyable>(_ fd: CInt, _ level: CInt, _ name: CInt, _ value: T) -> Result<Void, Errno> {
        withUnsafeBytes(of: value) { raw in
            checked(Glibc.setsockopt(fd, level, name, raw.baseAddress, socklen_t(raw.count))).map { _ in () }
        }
    }

    /// getsockopt(2) of a plain value; fails unless the kernel filled all of it.
    package static func option<T: BitwiseCopyable>(_ fd: CInt, _ level: CInt, _ name: CInt, as: T.Type, initial: T) -> Result<T, Errno> {
        var value = initial
        var length = socklen_t(MemoryLayout<T>.size)
        let rc = withUnsafeMutableBytes(of: &value) { raw in Glibc.getsockopt(fd, level, name, raw.baseAddress, &length) }
        guard rc == 0 else { return .failure(lastError) }
        return length == socklen_t(MemoryLayout<T>.size) ? .success(value) : .failure(.invalidArgument)
    }

    /// getsockname(2) into `address` of `length` bytes; returns the length the kernel used.
    package static func socketName(_ fd: CInt, _ address: UnsafeMutablePointer<sockaddr>, _ length: socklen_t) -> Result<socklen_t, Errno> {
        var length = length
        guard Glibc.getsockname(fd, address, &length) == 0 else { return .failure(lastError) }
        return .success(length)
    }

    /// poll(2) for up to `milliseconds` (-1: forever): the count of ready
    /// descriptors. EINTR is returned, not retried: callers recompute their timeout.
    package static func poll(_ fds: inout [pollfd], milliseconds: CInt) -> Result<Int, Errno> {
        checked(Glibc.poll(&fds, nfds_t(fds.count), milliseconds)).map { Int($0) }
    }
}
