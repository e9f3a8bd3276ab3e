import Glibc

/// The retire channel's sockets: `SOCK_SEQPACKET` AF_UNIX sockets named for
/// the pid, in the uid's ``RetireDirectory`` (a message is one request or
/// one answer). Bound and connected through `/proc/self/fd/DIR/PID`, the
/// checked directory's descriptor: no name on the way can be swapped for a
/// symbolic link.
enum RetireSocket {
    /// A bound, listening socket and where its name is (to remove it at exit).
    struct Listener: Sendable {
        var fd: CInt
        var directory: CInt
        var directoryPath: String
        var name: String
        var inode: UInt64

        /// Removes the socket's name if it is still this socket's (not a successor's with the same pid).
        func unlinkName() {
            guard case .success(let st) = Syscalls.status(at: directory, name), UInt64(st.st_ino) == inode else { return }
            _ = Syscalls.unlink(at: directory, name)
        }
    }

    static func socketType() -> CInt { CInt(SOCK_SEQPACKET.rawValue) | CInt(SOCK_CLOEXEC.rawValue) }

    /// A socket bound and listening under this process's pid, or why not.
    static func listen() -> Result<Listener, RetireDirectory.Problem> {
        let uid = Syscalls.effectiveUserID(), pid = Syscalls.processID()
        let directory: (fd: CInt, path: String)
        switch RetireDirectory.open(for: uid, create: true) {
        case .success(let d): directory = d
        case .failure(let problem): return .failure("no directory for the retire channel: \(problem.reason)")
        }
        let name = "\(pid)"
        sweepStale(directory.fd)
        // A name left by an earlier process with this pid (killed, so it could not remove it).
        _ = Syscalls.unlink(at: directory.fd, name)
        guard case .success(let fd) = Syscalls.socket(AF_UNIX, socketType()) else {
            Syscalls.close(directory.fd)
            return .failure("socket(AF_UNIX) failed")
        }
        let bound = withAddress("/proc/self/fd/\(directory.fd)/\(name)") { Syscalls.bind(fd, $0, $1) }
        if case .failure(let e) = bound {
            Syscalls.close(fd)
            Syscalls.close(directory.fd)
            return .failure("bind \(directory.path)/\(name): \(Syscalls.describe(e))")
        }
        guard case .success = Syscalls.listen(fd, backlog: 64),
              case .success(let st) = Syscalls.status(at: directory.fd, name) else {
            _ = Syscalls.unlink(at: directory.fd, name)
            Syscalls.close(fd)
            Syscalls.close(directory.fd)
            return .failure("listen \(directory.path)/\(name) failed")
        }
        return .success(Listener(fd: fd, directory: directory.fd, directoryPath: directory.path, name: name,
                                 inode: UInt64(st.st_ino)))
    }

    /// Removes names of processes that are gone (killed before they could).
    private static func sweepStale(_ directory: CInt) {
        guard case .success(let names) = Syscalls.directoryEntries("/proc/self/fd/\(directory)") else { return }
        for name in names where Int32(name) != nil {
            if case .failure(.noSuchFileOrDirectory) = Syscalls.status(ofPath: "/proc/\(name)") {
                _ = Syscalls.unlink(at: directory, name)
            }
        }
    }

    /// Why a process could not be asked.
    enum Failure: Error, Sendable, Hashable {
        /// Nobody listens under its pid: not a daxmap process (or one without a device in use).
        case notDaxmap
        /// It listens but did not answer in time, or answered something else.
        case noAnswer
    }

    /// Connects to `pid`'s channel, in its uid's directory.
    static func connect(to pid: Int32) -> Result<CInt, Failure> {
        guard let uid = RetireDirectory.effectiveUID(of: pid) else { return .failure(.notDaxmap) }
        for place in RetireDirectory.places(for: uid) {
            guard case .success(let directory) = RetireDirectory.open(place, owner: uid, create: false) else { continue }
            defer { Syscalls.close(directory) }
            guard case .success(let node) = Syscalls.open(at: directory, "\(pid)", Syscalls.pathOnly | O_NOFOLLOW) else { continue }
            defer { Syscalls.close(node) }
            guard case .success(let st) = Syscalls.status(of: node), st.st_mode & S_IFMT == S_IFSOCK,
                  case .success(let fd) = Syscalls.socket(AF_UNIX, socketType()) else { continue }
            let rc = withAddress("/proc/self/fd/\(node)") { Syscalls.connect(fd, $0, $1) }
            // Only the process itself is believed (the listener's credentials are taken at listen()).
            guard case .success = rc, peerCredentials(fd)?.pid == pid else {
                Syscalls.close(fd)
                continue
            }
            return .success(fd)
        }
        return .failure(.notDaxmap)
    }

    /// Sends `text` as one message, then waits up to `timeout` for the answer.
    static func ask(_ fd: CInt, _ text: String, timeout: Duration) -> Result<RetireWire.Answer, Failure> {
        // A failed send may still have an answer waiting (a refusal): read it anyway.
        _ = send(fd, text)
        return awaitAnswer(fd, timeout: timeout)
    }

    /// Waits up to `timeout` for the answer to a request already sent.
    static func awaitAnswer(_ fd: CInt, timeout: Duration) -> Result<RetireWire.Answer, Failure> {
        guard let reply = receive(fd, timeout: timeout),
              let answer = RetireWire.decodeAnswer(reply) else { return .failure(.noAnswer) }
        return .success(answer)
    }

    @discardableResult
    static func send(_ fd: CInt, _ text: String) -> Bool {
        var text = text
        return text.withUTF8 { b in
            guard case .success(let n) = Syscalls.send(fd, UnsafeRawBufferPointer(b)) else { return false }
            return n == b.count
        }
    }

    /// One message, or nil at `timeout`, end of stream or an error.
    static func receive(_ fd: CInt, timeout: Duration) -> [UInt8]? {
        let (seconds, atto) = max(timeout, .milliseconds(1)).components
        let tv = timeval(tv_sec: Int(seconds), tv_usec: Int(atto / 1_000_000_000_000))
        // Without the timeout the receive could wait forever: no timeout, no receive.
        guard case .success = Syscalls.setOption(fd, SOL_SOCKET, SO_RCVTIMEO, tv) else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { Syscalls.receive(fd, into: $0) }
        guard case .success(let count) = n, count > 0 else { return nil }
        return Array(buffer[0..<count])
    }

    /// The peer's uid (`SO_PEERCRED`), nil when the kernel does not say.
    static func peerUID(_ fd: CInt) -> uid_t? { peerCredentials(fd)?.uid }

    /// The peer's pid and uid (`SO_PEERCRED`), nil when the kernel does not say.
    static func peerCredentials(_ fd: CInt) -> (pid: Int32, uid: uid_t)? {
        guard case .success(let credentials) = Syscalls.option(
            fd, SOL_SOCKET, SO_PEERCRED, as: Credentials.self, initial: Credentials(pid: 0, uid: 0, gid: 0)) else { return nil }
        return (credentials.pid, credentials.uid)
    }

    private static func withAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { p in
            for (i, b) in bytes.prefix(p.count - 1).enumerated() { p[i] = b }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + min(bytes.count, 107) + 1)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}
