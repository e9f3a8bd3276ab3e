import Glibc
import Synchronization
import DaxMapSync
import Testing
@testable import DaxMap

/// Real netlink sockets. We run as root in CI; a sandbox without netlink cancels (skips)
/// these tests with the reason rather than passing them silently.
@Suite struct UEventListenerTests {
    func openListener() throws -> UEventListener { try openUEventListener() }

    /// A user-space process unicasts a well-formed removal of a device-dax device to our
    /// port: the listener must drop it as forged (sender port != 0) and count it.
    @Test func rejectsForgedUnicastRemoval() throws {
        let listener = try openListener()
        defer { listener.close() }
        #expect(listener.portID != 0)

        let forger = socket(AF_NETLINK, CInt(SOCK_RAW.rawValue | SOCK_CLOEXEC.rawValue), UEventListener.netlinkKobjectUEvent)
        try #require(forger >= 0, "second netlink socket: errno \(errno)")
        defer { close(forger) }
        var local = NetlinkAddress()  // port chosen by the kernel, no groups
        _ = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(forger, $0, socklen_t(MemoryLayout<NetlinkAddress>.size)) }
        }
        let devpath = "/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/dax0.0/dax0.0"
        let message = UEventFixtures.bytes(
            "remove@\(devpath)|ACTION=remove|DEVPATH=\(devpath)|SUBSYSTEM=dax|MAJOR=252|MINOR=0|DEVNAME=dax0.0|SEQNUM=1|")
        // Well-formed: it would be delivered if the sender checks were missing.
        #expect(try UEvent(kernelMessage: message).action == .remove)
        // Unicast to the listener's port only: never to group 1, which would reach udevd.
        var destination = NetlinkAddress(pid: listener.portID, groups: 0)
        let sent = message.withUnsafeBytes { bytes in
            withUnsafePointer(to: &destination) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(forger, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<NetlinkAddress>.size))
                }
            }
        }
        try #require(sent == message.count, "sendto: errno \(errno)")

        // Genuine kernel events from elsewhere may arrive meanwhile; none may be the forgery.
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(5))
        while listener.forgedCount == 0 && clock.now < deadline {
            if case .event(let e) = try listener.next(timeout: .milliseconds(200)) {
                #expect(e.devpath != devpath, "forged message delivered")
            }
        }
        #expect(listener.forgedCount == 1)
        #expect(listener.malformedCount == 0)
        #expect(listener.lastRejection?.contains("is not the kernel") == true)
    }

    /// Asks the kernel for a synthetic `change` uevent of /dev/null (as `udevadm trigger`
    /// does), tagged with a SYNTH_UUID so that parallel tests cannot confuse us.
    @Test func deliversGenuineKernelUEvent() throws {
        let listener = try openListener()
        defer { listener.close() }
        let uuid = "d4a0c0de-0000-4000-8000-\(String(UInt64(getpid()) * 1000 + UInt64(listener.portID % 1000), radix: 16).leftPadded(12))"
        try requireUEventTrigger()
        let file = ueventTriggerFile
        let fd = open(file, O_WRONLY | O_CLOEXEC)
        if fd < 0 { try Test.cancel("cannot open \(file) for writing (errno \(errno)): no way to make the kernel emit a uevent here") }
        defer { close(fd) }
        let request = "change \(uuid)"
        let written = request.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        if written < 0 { try Test.cancel("writing '\(request)' to \(file) refused (errno \(errno))") }

        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(5))
        var ours: UEvent?
        while ours == nil && clock.now < deadline {
            if case .event(let e) = try listener.next(timeout: .milliseconds(500)), e["SYNTH_UUID"] == uuid {
                ours = e
            }
        }
        let event = try #require(ours, "the kernel's change uevent did not arrive within 5 s")
        #expect(event.action == .change)
        #expect(event.devpath == "/devices/virtual/mem/null")
        #expect(event.subsystem == "mem" && event.devname == "null" && event.major == 1 && event.minor == 3)
        #expect(listener.forgedCount == 0)
        // The identity of /dev/null resolved from sysfs matches the event's path.
        let identity = try DaxDeviceIdentity.resolve(path: "/dev/null")
        #expect(identity.isAtOrBelow(event.devpath))
    }

    @Test func closeWakesABlockedReceiverAndIsFinal() throws {
        let listener = try openListener()
        let started = Atomic<Bool>(false)
        let result = Locked<String>("")
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Box { [listener] in
            started.store(true, ordering: .releasing)
            do {
                let r = try listener.next(timeout: .seconds(30))
                result.withLock { $0 = r == nil ? "nil" : "message" }
            } catch {
                result.withLock { $0 = "threw" }
            }
        })
        let rc = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, box.toOpaque())
        try #require(rc == 0)
        while !started.load(ordering: .acquiring) { usleep(1000) }
        usleep(50_000)  // let it reach poll()
        let clock = ContinuousClock()
        let before = clock.now
        listener.close()
        pthread_join(thread, nil)
        #expect(clock.now - before < .seconds(5), "close() did not wake the receiver")
        // Either it returned nil (woken) or delivered something that was already queued.
        #expect(result.withLock { $0 } != "threw")
        #expect { try listener.next(timeout: .zero) } throws: { ($0 as! DaxError).code == .closed }
        listener.close()  // idempotent
    }

    @Test func senderChecksMatchLibudev() {
        let kernel = NetlinkAddress(pid: 0, groups: 1)
        let root = Credentials(pid: 0, uid: 0, gid: 0)
        #expect(UEventListener.rejection(sender: kernel, credentials: root) == nil)
        #expect(UEventListener.rejection(sender: NetlinkAddress(pid: 4242, groups: 1), credentials: root)!.contains("port 4242"))
        #expect(UEventListener.rejection(sender: NetlinkAddress(pid: 0, groups: 0), credentials: root)!.contains("unicast"))
        #expect(UEventListener.rejection(sender: kernel, credentials: Credentials(pid: 0, uid: 1000, gid: 0))!.contains("uid 1000"))
        #expect(UEventListener.rejection(sender: kernel, credentials: nil)!.contains("SCM_CREDENTIALS"))
        #expect(UEventListener.rejection(sender: nil, credentials: root) != nil)
        #expect(UEventListener.rejection(sender: kernel, credentials: root, controlTruncated: true) != nil)
    }

    @Test func unavailableErrnosFallBack() {
        let refused = DaxError(.system, operation: "socket", errno: .addressFamilyNotSupported, message: "")
        #expect(UEventListener.isUnavailable(refused))
        #expect(UEventListener.isUnavailable(DaxError(.permissionDenied, operation: "socket", errno: .notPermitted, message: "")))
        #expect(!UEventListener.isUnavailable(DaxError(.system, operation: "socket", errno: .tooManyOpenFiles, message: "")))
    }
}

private final class Box: @unchecked Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + suffix(width)
    }
}
