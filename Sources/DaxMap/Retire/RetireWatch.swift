import Glibc
internal import DaxMapSync

/// The retirer's wait, on events rather than timers: one `poll` on a
/// `pidfd_open` descriptor per holding process (readable when it exits) and on
/// a socket the threads asking daxmap processes write to when an answer
/// arrives. A process that answered, or a plain process that may unmap
/// without exiting, is looked at again alone (its `/proc/PID/maps`, never the
/// whole of `/proc`), the plain ones at growing intervals (10 ms to 200 ms):
/// nothing else would tell.
///
/// `@unchecked Sendable`: asking threads call only ``answered(_:_:)`` (a lock
/// and a socket); everything else is the waiting thread's alone.
final class RetireWatch: @unchecked Sendable {
    private let target: RetireTarget
    /// Processes still seen holding the target, with their pidfd (-1: none to be had).
    private var holding: [Int32: CInt] = [:]
    /// daxmap processes asked and not answered yet.
    private var outstanding: Set<Int32>
    private let wakeRead: CInt
    private let wakeWrite: CInt
    let answers = Locked([Int32: RetireWire.Answer]())

    init?(target: RetireTarget, holding pids: [Int32], asking: Set<Int32>) {
        guard case .success(let (r, w)) = Syscalls.socketPair(AF_UNIX, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue))
        else { return nil }
        self.target = target
        wakeRead = r
        wakeWrite = w
        outstanding = asking
        for pid in pids {
            switch Syscalls.processDescriptor(pid) {
            case .success(let fd): holding[pid] = fd
            case .failure(.noSuchProcess): break // gone already
            case .failure: holding[pid] = -1 // an older kernel: looked at again instead
            }
        }
    }

    deinit {
        for fd in holding.values where fd >= 0 { Syscalls.close(fd) }
        Syscalls.close(wakeRead)
        Syscalls.close(wakeWrite)
    }

    /// Called by an asking thread with what `pid` answered (nil: no answer).
    func answered(_ pid: Int32, _ answer: RetireWire.Answer?) {
        if let answer { answers.withLock { $0[pid] = answer } }
        var pid = pid
        // Blocks only while the waiting thread's queue is full; it drains it.
        _ = withUnsafeBytes(of: &pid) { Syscalls.send(wakeWrite, $0) }
    }

    /// Waits until every process let go and every daxmap process answered;
    /// plain holders get until `deadline`, answers until `limit`.
    func wait(deadline: ContinuousClock.Instant, limit: ContinuousClock.Instant) {
        let clock = ContinuousClock()
        var interval = Duration.milliseconds(10)
        var nextLook = clock.now + interval
        while true {
            let now = clock.now
            if holding.isEmpty && outstanding.isEmpty { return }
            if now >= limit || (outstanding.isEmpty && now >= deadline) { return }
            let watched = holding.filter { !outstanding.contains($0.key) }
            var until = outstanding.isEmpty ? deadline : limit
            if !watched.isEmpty { until = min(until, nextLook) }
            let order = Array(holding.keys)
            var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
                + order.map { pollfd(fd: holding[$0]!, events: Int16(POLLIN), revents: 0) }
            _ = Syscalls.poll(&fds, milliseconds: Self.milliseconds(now.duration(to: until)))
            var look = Set<Int32>()
            if fds[0].revents & Int16(POLLIN) != 0 {
                for pid in drainWakes() where outstanding.remove(pid) != nil { look.insert(pid) }
            }
            for (i, pid) in order.enumerated() where fds[i + 1].revents != 0 {
                release(pid) // exited
            }
            if clock.now >= nextLook {
                look.formUnion(holding.keys.filter { !outstanding.contains($0) })
                interval = min(interval * 2, .milliseconds(200))
                nextLook = clock.now + interval
            }
            look.formIntersection(holding.keys)
            if !look.isEmpty {
                let still = Set(HolderScan.scan(target, pids: look.sorted()).found.map(\.pid))
                for pid in look where !still.contains(pid) { release(pid) }
            }
        }
    }

    /// The processes not yet seen letting go (or exiting).
    var stillHolding: [Int32] { holding.keys.sorted() }

    private func release(_ pid: Int32) {
        if let fd = holding.removeValue(forKey: pid), fd >= 0 { Syscalls.close(fd) }
    }

    private func drainWakes() -> [Int32] {
        var pids: [Int32] = []
        var pid: Int32 = 0
        while true {
            var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            guard case .success(let n) = Syscalls.poll(&fds, milliseconds: 0), n > 0 else { return pids }
            let got = withUnsafeMutableBytes(of: &pid) { Syscalls.receive(wakeRead, into: $0) }
            guard case .success(let count) = got, count == MemoryLayout<Int32>.size else { return pids }
            pids.append(pid)
        }
    }

    static func milliseconds(_ d: Duration) -> CInt {
        let (s, atto) = max(d, .zero).components
        return CInt(clamping: s * 1000 + atto / 1_000_000_000_000_000 + 1)
    }
}
