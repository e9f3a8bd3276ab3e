import Glibc

/// The retire channel's sockets: `SOCK_SEQPACKET` on the abstract AF_UNIX
/// name `\0daxmap.<pid>` (no file, gone with the process; a message is one
/// request or one answer).
enum RetireSocket {
    static func name(of pid: Int32) -> String { "daxmap.\(pid)" }

    /// A socket bound and listening on this process's name; nil when that fails.
    static func listen() -> CInt? {
        guard case .success(let fd) = Syscalls.socket(AF_UNIX, CInt(SOCK_SEQPACKET.rawValue) | CInt(SOCK_CLOEXEC.rawValue))
        else { return nil }
        let bound = withAddress(of: Syscalls.processID()) { Syscalls.bind(fd, $0, $1) }
        guard case .success = bound, case .success = Syscalls.listen(fd, backlog: 16) else {
            Syscalls.close(fd)
            return nil
        }
        return fd
    }

    /// Why a process could not be asked.
    enum Failure: Error, Sendable, Hashable {
        /// Nobody listens on its name: not a daxmap process (or one without a device open).
        case notDaxmap
        /// It listens but did not answer in time, or answered something else.
        case noAnswer
    }

    /// Connects to `pid`'s channel.
    static func connect(to pid: Int32) -> Result<CInt, Failure> {
        guard case .success(let fd) = Syscalls.socket(AF_UNIX, CInt(SOCK_SEQPACKET.rawValue) | CInt(SOCK_CLOEXEC.rawValue))
        else { return .failure(.noAnswer) }
        let rc = withAddress(of: pid) { address, length in Syscalls.connect(fd, address, length) }
        guard case .success = rc else {
            Syscalls.close(fd)
            return .failure(.notDaxmap)
        }
        // The name is predictable: anyone may bind it first. Only the process
        // itself is believed (the listener's credentials are taken at listen()).
        guard peerCredentials(fd)?.pid == pid else {
            Syscalls.close(fd)
            return .failure(.notDaxmap)
        }
        return .success(fd)
    }

    /// Sends `text` as one message, then waits up to `timeout` for the answer.
    static func ask(_ fd: CInt, _ text: String, timeout: Duration) -> Result<RetireWire.Answer, Failure> {
        // A failed send may still have an answer waiting (a refusal): read it anyway.
        _ = send(fd, text)
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

    private static func withAddress<T>(of pid: Int32, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(name(of: pid).utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            path[0] = 0 // abstract
            for (i, b) in bytes.prefix(path.count - 1).enumerated() { path[i + 1] = b }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + 1 + bytes.count)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}
