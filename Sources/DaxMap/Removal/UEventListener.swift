import Glibc
internal import DaxMapSync
import SystemPackage

/// Receives kernel uevents from a `NETLINK_KOBJECT_UEVENT` socket, trusting only the kernel.
///
/// Owns one netlink socket and a wake-up socket pair; ``close()`` releases them (or `deinit`).
/// Thread-safe: ``next(timeout:)`` may block on a monitor thread while another thread calls
/// ``close()``, which wakes it; the descriptors are closed once no receive is in progress,
/// so a closed number is never reused under a blocked `poll`.
///
/// Each message is checked as libudev checks it: the sender's netlink port must be 0 (the
/// kernel), the message must arrive on a multicast group, and `SCM_CREDENTIALS` must say
/// uid 0. Anyone with a netlink socket can unicast a well-formed "remove" to our port;
/// such messages are dropped and counted in ``forgedCount``, never delivered.
///
/// Where the socket is refused (a container without netlink: see ``isUnavailable(_:)``),
/// fall back to ``SysfsPoller``.
final class UEventListener: Sendable {
    /// What one receive produced.
    enum Received: Sendable, Hashable {
        /// A genuine kernel uevent.
        case event(UEvent)
        /// The socket's receive queue overflowed (`ENOBUFS`): events were lost. Re-check
        /// the state of every watched device, e.g. with ``SysfsPoller/check()``.
        case eventsLost
    }

    /// The kernel's multicast group for raw uevents (udevd re-broadcasts on group 2).
    static let kernelGroup: UInt32 = 1
    /// `NETLINK_KOBJECT_UEVENT` from `<linux/netlink.h>`, which Glibc does not import.
    static let netlinkKobjectUEvent: CInt = 15
    /// `SCM_CREDENTIALS` from `<bits/socket.h>` (GNU-only, not imported).
    static let scmCredentials: CInt = 2

    private struct State {
        var closed = false
        var receivers = 0
        var forged = 0
        var malformed = 0
        var lost = 0
        var lastRejection: String?
    }

    private let socket: CInt
    /// close() writes to wake.1 so a poll() in next(timeout:) returns at once.
    private let wake: (CInt, CInt)
    private let state = Locked(State())

    /// The netlink port id the kernel assigned to this socket (`nl_pid` from `getsockname`).
    let portID: UInt32

    /// Opens the socket, binds it to the kernel uevent group and asks for sender credentials.
    ///
    /// - Throws: `DaxError` `.permissionDenied` (EPERM/EACCES) or `.system` (e.g.
    ///   EAFNOSUPPORT, EPROTONOSUPPORT where netlink is unavailable). Check
    ///   ``isUnavailable(_:)`` to decide whether to fall back to ``SysfsPoller``.
    ///
    /// The corresponding C call is `socket(AF_NETLINK, SOCK_RAW, NETLINK_KOBJECT_UEVENT)`.
    init() throws(DaxError) {
        let type = CInt(SOCK_RAW.rawValue | SOCK_CLOEXEC.rawValue | SOCK_NONBLOCK.rawValue)
        let fd: CInt
        switch Syscalls.socket(AF_NETLINK, type, Self.netlinkKobjectUEvent) {
        case .success(let f): fd = f
        case .failure(let e): throw Self.error("socket", e)
        }
        let pair: (CInt, CInt)
        let dgram = CInt(SOCK_DGRAM.rawValue | SOCK_CLOEXEC.rawValue | SOCK_NONBLOCK.rawValue)
        switch Syscalls.socketPair(AF_UNIX, dgram) {
        case .success(let p): pair = p
        case .failure(let e):
            Syscalls.close(fd)
            throw Self.error("socketpair", e)
        }
        func fail(_ op: String, _ e: Errno) -> DaxError {
            Syscalls.close(fd); Syscalls.close(pair.0); Syscalls.close(pair.1)
            return Self.error(op, e)
        }
        // A large queue makes ENOBUFS (lost events) unlikely during an unbind storm.
        // SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it SO_RCVBUF is capped, which is fine.
        let size: CInt = 4 << 20
        if case .failure = Syscalls.setOption(fd, SOL_SOCKET, SO_RCVBUFFORCE, size) {
            // Only a hint: the default queue works, it just overflows (ENOBUFS, handled) sooner.
            _ = Syscalls.setOption(fd, SOL_SOCKET, SO_RCVBUF, size)
        }
        if case .failure(let e) = Syscalls.setOption(fd, SOL_SOCKET, SO_PASSCRED, CInt(1)) {
            throw fail("setsockopt(SO_PASSCRED)", e)
        }
        var address = NetlinkAddress(groups: Self.kernelGroup)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Syscalls.bind(fd, $0, socklen_t(MemoryLayout<NetlinkAddress>.size))
            }
        }
        if case .failure(let e) = bound { throw fail("bind", e) }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Syscalls.socketName(fd, $0, socklen_t(MemoryLayout<NetlinkAddress>.size))
            }
        }
        if case .failure(let e) = named { throw fail("getsockname", e) }
        socket = fd
        wake = pair
        portID = address.pid
    }

    deinit {
        // No receiver can be running: it would hold a reference.
        if !state.withLock({ $0.closed }) { closeDescriptors() }
    }

    /// True when `error` from ``init()`` means netlink is not available here (a sandbox
    /// or container), so the caller should watch sysfs with ``SysfsPoller`` instead.
    static func isUnavailable(_ error: DaxError) -> Bool {
        guard let e = error.errno else { return false }
        return [.permissionDenied, .notPermitted, .addressFamilyNotSupported, .protocolNotSupported,
                .socketTypeNotSupported].contains(e)
    }

    /// The netlink socket, to `poll` for `POLLIN` alongside other descriptors (the
    /// fault monitor's eventfd). Valid until ``close()``; never read from it directly:
    /// call ``receive()`` when it is readable.
    var fileDescriptor: CInt { socket }

    /// Messages dropped because they did not come from the kernel.
    var forgedCount: Int { state.withLock { $0.forged } }
    /// Messages from the kernel that did not parse (see ``UEvent/init(kernelMessage:)``).
    var malformedCount: Int { state.withLock { $0.malformed } }
    /// Times the receive queue overflowed.
    var lostCount: Int { state.withLock { $0.lost } }
    /// Why the last forged or malformed message was dropped, for diagnostics.
    var lastRejection: String? { state.withLock { $0.lastRejection } }

    /// Returns the next pending message without blocking, or nil if none is queued.
    /// Forged and malformed messages are skipped (and counted).
    ///
    /// - Throws: `DaxError` `.closed` after ``close()``, `.system` on a socket error.
    func receive() throws(DaxError) -> Received? {
        try acquire()
        defer { release() }
        return try receiveLocked()
    }

    /// Waits up to `timeout` (forever if nil) for the next genuine uevent.
    ///
    /// Meant for a dedicated monitor thread. Returns nil on timeout, and also when
    /// ``close()`` is called meanwhile (the next call then throws `.closed`).
    /// - Throws: `DaxError` `.closed` if already closed, `.system` on a socket error.
    @available(*, noasync, message: "blocks the thread; call it from a dedicated monitor thread")
    func next(timeout: Duration?) throws(DaxError) -> Received? {
        try acquire()
        defer { release() }
        let clock = ContinuousClock()
        let deadline = timeout.map { clock.now.advanced(by: $0) }
        while true {
            if let received = try receiveLocked() { return received }
            var milliseconds: CInt = -1
            if let deadline {
                let left = clock.now.duration(to: deadline)
                if left <= .zero { return nil }
                let (s, atto) = left.components
                milliseconds = CInt(clamping: s * 1000 + (atto + 999_999_999_999_999) / 1_000_000_000_000_000)
            }
            var fds = [pollfd(fd: socket, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wake.0, events: Int16(POLLIN), revents: 0)]
            switch Syscalls.poll(&fds, milliseconds: milliseconds) {
            case .success: break
            case .failure(.interrupted): continue
            case .failure(let e): throw Self.error("poll", e)
            }
            if fds[1].revents != 0 { return nil }  // close() was called
        }
    }

    /// Closes the socket. Idempotent; wakes a thread blocked in ``next(timeout:)``.
    func close() {
        let closeNow = state.withLock { s -> Bool in
            if s.closed { return false }
            s.closed = true
            if s.receivers == 0 { return true }
            // Under the lock: a receiver's release() cannot close wake.1 before this write.
            // Fails only when the pair's queue is full (EAGAIN): a wake-up is already pending.
            _ = withUnsafeBytes(of: UInt8(1)) { Syscalls.write(wake.1, $0) }
            return false
        }
        if closeNow { closeDescriptors() }
    }

    // MARK: - Internals

    private func acquire() throws(DaxError) {
        let open = state.withLock { s -> Bool in
            if s.closed { return false }
            s.receivers += 1
            return true
        }
        guard open else {
            throw DaxError(.closed, operation: "receive uevent", message: "the uevent listener was closed")
        }
    }

    private func release() {
        let closeNow = state.withLock { s -> Bool in
            s.receivers -= 1
            return s.closed && s.receivers == 0
        }
        if closeNow { closeDescriptors() }
    }

    private func closeDescriptors() {
        Syscalls.close(socket)
        Syscalls.close(wake.0)
        Syscalls.close(wake.1)
    }

    /// One recvmsg at a time until a deliverable message or EAGAIN.
    private func receiveLocked() throws(DaxError) -> Received? {
        // One byte more than a uevent may be, so an oversized datagram shows as MSG_TRUNC.
        var buffer = [UInt8](repeating: 0, count: UEvent.maximumMessageLength + 1)
        // Room for a cmsghdr and a ucred: CMSG_SPACE(sizeof(struct ucred)) is 32.
        var control = [UInt64](repeating: 0, count: 8)
        while true {
            var sender = NetlinkAddress()
            var msgFlags: CInt = 0
            var senderLength: socklen_t = 0
            var controlLength = 0
            let n = buffer.withUnsafeMutableBytes { data in
                control.withUnsafeMutableBytes { cmsg in
                    withUnsafeMutablePointer(to: &sender) { name in
                        var iov = iovec(iov_base: data.baseAddress, iov_len: data.count)
                        return withUnsafeMutablePointer(to: &iov) { iovp in
                            var message = msghdr(
                                msg_name: UnsafeMutableRawPointer(name),
                                msg_namelen: socklen_t(MemoryLayout<NetlinkAddress>.size),
                                msg_iov: iovp, msg_iovlen: 1,
                                msg_control: cmsg.baseAddress, msg_controllen: cmsg.count, msg_flags: 0)
                            let n = Syscalls.receiveMessage(socket, &message)
                            msgFlags = message.msg_flags
                            senderLength = message.msg_namelen
                            controlLength = message.msg_controllen
                            return n
                        }
                    }
                }
            }
            let count: Int
            switch n {
            case .success(let c): count = c
            case .failure(.wouldBlock): return nil
            case .failure(.noBufferSpace):
                state.withLock { $0.lost += 1 }
                return .eventsLost
            case .failure(let e): throw Self.error("recvmsg", e)
            }
            let credentials = control.withUnsafeBytes { Self.credentials(in: UnsafeRawBufferPointer(rebasing: $0[..<controlLength])) }
            if let why = Self.rejection(
                sender: senderLength == MemoryLayout<NetlinkAddress>.size ? sender : nil,
                credentials: credentials, controlTruncated: msgFlags & CInt(MSG_CTRUNC) != 0)
            {
                state.withLock { $0.forged += 1; $0.lastRejection = why }
                continue
            }
            if msgFlags & CInt(MSG_TRUNC) != 0 {
                state.withLock { $0.malformed += 1; $0.lastRejection = "message longer than \(UEvent.maximumMessageLength) bytes" }
                continue
            }
            do throws(DaxError) {
                return .event(try UEvent(kernelMessage: buffer[..<count]))
            } catch {
                state.withLock { $0.malformed += 1; $0.lastRejection = error.message }
            }
        }
    }

    /// Why a message must not be trusted, or nil if it comes from the kernel. The same
    /// checks as libudev's udev_monitor_receive_device().
    static func rejection(sender: NetlinkAddress?, credentials: Credentials?, controlTruncated: Bool = false) -> String? {
        guard let sender, sender.family == sa_family_t(AF_NETLINK) else { return "sender address is not netlink" }
        if sender.pid != 0 { return "sender port \(sender.pid) is not the kernel (0)" }
        if sender.groups == 0 { return "unicast message: kernel uevents arrive on a multicast group" }
        if controlTruncated { return "credentials truncated" }
        guard let credentials else { return "no sender credentials (SCM_CREDENTIALS)" }
        if credentials.uid != 0 { return "sender uid \(credentials.uid) is not root" }
        return nil
    }

    /// Finds `SCM_CREDENTIALS` among the control messages. Walked by hand because the
    /// CMSG_* macros are not imported; the layout is `cmsghdr` then data, each aligned to size_t.
    static func credentials(in control: UnsafeRawBufferPointer) -> Credentials? {
        let header = MemoryLayout<cmsghdr>.size
        let align = MemoryLayout<Int>.size
        var offset = 0
        while offset + header <= control.count {
            let length = control.loadUnaligned(fromByteOffset: offset, as: Int.self)
            let level = control.loadUnaligned(fromByteOffset: offset + 8, as: CInt.self)
            let type = control.loadUnaligned(fromByteOffset: offset + 12, as: CInt.self)
            guard length >= header, offset + length <= control.count else { return nil }
            if level == SOL_SOCKET, type == scmCredentials, length >= header + MemoryLayout<Credentials>.size {
                return control.loadUnaligned(fromByteOffset: offset + header, as: Credentials.self)
            }
            offset += (length + align - 1) & ~(align - 1)
        }
        return nil
    }

    private static func error(_ operation: String, _ e: Errno) -> DaxError {
        let code: DaxError.Code = (e == .permissionDenied || e == .notPermitted) ? .permissionDenied : .system
        return DaxError(code, operation: operation, path: "NETLINK_KOBJECT_UEVENT", errno: e,
                        message: "cannot listen to kernel uevents: \(Syscalls.describe(e))")
    }
}

/// `struct sockaddr_nl` from `<linux/netlink.h>` (not imported by Glibc); 12 bytes, same layout.
struct NetlinkAddress {
    var family = sa_family_t(AF_NETLINK)
    var pad: UInt16 = 0
    var pid: UInt32 = 0
    var groups: UInt32 = 0
}

/// `struct ucred` from `<bits/socket.h>` (GNU-only, not imported); 12 bytes, same layout.
struct Credentials {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32
}
