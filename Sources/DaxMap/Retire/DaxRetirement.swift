import Glibc
internal import DaxMapSync

/// Planned removal of a device across every process of the host: notify
/// every holder first, wait for them to let go, only then remove.
///
/// A retire **freezes** the device host-wide (opening it or mapping it, in any
/// process that uses daxmap, throws `.deviceGoing` naming the retirer),
/// **finds** every process that maps it or has it open (`/proc`), **asks**
/// each daxmap process over its retire channel (an AF_UNIX socket named for
/// its pid in a directory only its uid can enter, `/run/daxmap/UID/` or
/// `/run/user/UID/daxmap/`; no daemon) to remove the device from itself — its holders
/// get ``DaxFailure/Kind/preRemove`` with source ``RemovalSource/operator`` —
/// **waits** for the answers and for the holding processes to let go or exit
/// (`pidfd_open`, `poll`: no timers), up to the deadline, **removes** it as asked, and **unfreezes**. Processes that do
/// not run daxmap are named in the report, never signalled.
///
/// Only root or the uid of a process may ask it; others are refused and
/// counted there (``refusedRequests``). A retire that could not inspect every
/// process (another user's, without privilege) says so
/// (``DaxRetirementReport/unreadableProcesses``) and never claims success.
public enum DaxRetirement {
    /// What to do once the holders have let go.
    public enum Removal: String, Sendable, Hashable, CaseIterable {
        /// Only drain: notify and wait; leave the device in place.
        case none
        /// Disable a device-dax device (libdaxctl, as `daxctl disable-device`).
        case disable
        /// Write the device's name to its driver's `unbind` in sysfs.
        case unbind
        /// For a file system's device (a `/dev/pmemN` or its mount point):
        /// unmount every mount of it, then unbind. The order that avoids the
        /// kernels' fsdax removal defects: 7.2's unbind livelocks under a mounted
        /// XFS, 6.1's umount oopses after an unbind. A device-dax device is only
        /// unbound. Nothing is unmounted while a process still holds the device.
        case unmountUnbind = "unmount-unbind"
    }

    /// Extra time after the deadline for daxmap processes to send their answer.
    static let grace: Duration = .seconds(2)

    /// Retire requests this process refused because of the asker's uid.
    public static var refusedRequests: Int { DaxRuntime.process.retireChannel.refusedRequests }

    /// Drains `path` (a `/dev/daxX.Y`, a `/dev/pmemN`, a mount point, or a
    /// DAX or emulated file) from every process, then removes it as `then` says.
    ///
    /// - Parameters:
    ///   - path: the device, mount point or file to retire.
    ///   - deadline: how long holders have to let go (each daxmap process
    ///     revokes what its holders keep past it). At most a day.
    ///   - removal: what to do once nobody holds it; nothing is removed while
    ///     someone still does (the outcome is then ``DaxRetirementReport/Outcome/withheld(_:)``).
    /// - Throws: `.notFound`, `.invalidArgument` (a negative or huge deadline,
    ///   a directory that is not a mount point), `.notADaxDevice`,
    ///   `.deviceGoing` (another retire of it runs), `.system`.
    public static func retire(path: String, deadline: Duration = .seconds(10),
                              then removal: Removal = .none) async throws(DaxError) -> DaxRetirementReport {
        let milliseconds = try validated(deadline, path: path)
        let target = try RetireTarget(path: path)
        // Its own thread: the waits below must not occupy the cooperative pool.
        let result = await withCheckedContinuation { (c: CheckedContinuation<Result<DaxRetirementReport, DaxError>, Never>) in
            let body: @Sendable () -> Void = {
                c.resume(returning: Result { () throws(DaxError) in
                    try run(target, milliseconds: milliseconds, removal: removal)
                })
            }
            if !DetachedThread.start(name: "daxmap-retire", body) { body() }
        }
        return try result.get()
    }

    /// Every process of the host that maps `path` or has it open, with what it
    /// holds and, for daxmap processes, how many holders (asked over the channel).
    /// Processes this process could not inspect are left out: see ``listHolders(path:)``.
    /// - Throws: what ``retire(path:deadline:then:)`` throws for a bad path.
    public static func holders(path: String) throws(DaxError) -> [DaxHolderProcess] {
        try listHolders(path: path).processes
    }

    /// Every process of the host that maps `path` or has it open, and how many
    /// processes could not be inspected (another user's, without privilege).
    /// - Throws: what ``retire(path:deadline:then:)`` throws for a bad path.
    public static func listHolders(path: String) throws(DaxError) -> DaxHolderListing {
        let target = try RetireTarget(path: path)
        let scan = HolderScan.scan(target)
        var unreadable: [Int32] = []
        var processes = scan.found.map { found in
            var process = DaxHolderProcess(pid: found.pid, command: found.command, mappedRanges: found.ranges,
                                           descriptors: found.descriptors, runsDaxmap: false)
            if let answer = status(of: found.pid, target) {
                process.runsDaxmap = true
                process.holders = answer.refused ? nil : answer.holders
            }
            return process
        }
        // A process that could not be inspected but answers over the channel with
        // devices of the target in use is a holder; the others stay unknown.
        for pid in scan.unreadable {
            if let answer = status(of: pid, target), !answer.refused {
                guard answer.devices > 0 else { continue }
                processes.append(DaxHolderProcess(pid: pid, command: HolderScan.command(of: pid) ?? "?", mappedRanges: [],
                                                  descriptors: 0, runsDaxmap: true, holders: answer.holders))
            } else {
                unreadable.append(pid)
            }
        }
        return DaxHolderListing(processes: processes, unreadableProcesses: othersUnseen(unreadable))
    }

    /// How many of `pids` (processes that could not be inspected) are other
    /// users' (their effective uid, from the world-readable `/proc/PID/status`).
    /// A process of the caller's own uid that still cannot be read is more
    /// privileged than the caller (a sandbox's init, without `CAP_SYS_PTRACE`
    /// over it): no other user's process hides behind it, so it is left out.
    static func othersUnseen(_ pids: some Collection<Int32>) -> Int {
        let me = Syscalls.effectiveUserID()
        return pids.filter { RetireDirectory.effectiveUID(of: $0).map { $0 != me } ?? true }.count
    }

    private static func status(of pid: Int32, _ target: RetireTarget) -> RetireWire.Answer? {
        guard case .success(let fd) = RetireSocket.connect(to: pid) else { return nil }
        defer { Syscalls.close(fd) }
        guard case .success(let answer) = RetireSocket.ask(fd, RetireWire.encode(.status(key: target.key)),
                                                           timeout: .seconds(2)) else { return nil }
        return answer
    }

    /// Times this process's retire channel could not be set up (no directory
    /// only its uid can write: see ``DaxMonitorEvent/retireChannelUnavailable(reason:)``).
    public static var channelFailures: Int { DaxRuntime.process.retireChannel.failures.count }

    /// Why the channel could not be set up, the last time.
    public static var channelFailureReason: String? { DaxRuntime.process.retireChannel.failures.reason }

    /// Connections to this process's channel closed unanswered: over their
    /// uid's bound, or silent past the idle timeout.
    public static var droppedConnections: Int { DaxRuntime.process.retireChannel.droppedConnections }

    private static func validated(_ deadline: Duration, path: String) throws(DaxError) -> Int64 {
        let (seconds, atto) = deadline.components
        let limit = RetireWire.maximumDeadlineMilliseconds
        guard seconds >= 0, atto >= 0, seconds <= limit / 1000 else {
            throw DaxError(.invalidArgument, operation: "retire", path: path,
                           message: "the deadline must be between 0 and \(limit / 1000) seconds, not \(deadline)")
        }
        return seconds * 1000 + atto / 1_000_000_000_000_000
    }

    /// The whole retire, on a thread of its own.
    private static func run(_ target: RetireTarget, milliseconds: Int64,
                            removal: Removal) throws(DaxError) -> DaxRetirementReport {
        let clock = ContinuousClock()
        let started = clock.now
        let marker = try RetireMarker.acquire(key: target.key, target: target.path)
        defer { marker.release() }
        let first = HolderScan.scan(target)

        // Ask every holder, and every process we cannot look into (it may run
        // daxmap); a process nobody listens for is not a daxmap process.
        let request = RetireWire.encode(.retire(key: target.key, deadlineMilliseconds: milliseconds))
        var connections: [(Int32, CInt)] = []
        for pid in first.found.map(\.pid) + first.unreadable {
            // The request goes at once: a process closes a connection silent for a second
            // (RetireChannel.idleTimeout), and starting the asking threads can take longer
            // on a starved host (one process of 50 busy ones was never asked that way).
            if case .success(let fd) = RetireSocket.connect(to: pid) {
                RetireSocket.send(fd, request)
                connections.append((pid, fd))
            }
        }
        let daxmapPids = Set(connections.map(\.0))
        guard let watch = RetireWatch(target: target, holding: first.found.map(\.pid), asking: daxmapPids) else {
            for (_, fd) in connections { Syscalls.close(fd) }
            throw DaxError(.system, operation: "retire", path: target.path, message: "cannot make the retirer's wake-up socket")
        }
        let deadline = started + .milliseconds(milliseconds)
        for (pid, fd) in connections {
            let ask: @Sendable () -> Void = {
                var answer = try? RetireSocket.awaitAnswer(fd, timeout: clock.now.duration(to: deadline + grace)).get()
                Syscalls.close(fd)
                // Closed unanswered (its bound on connections, or the request late): once more.
                if answer == nil, clock.now < deadline, case .success(let again) = RetireSocket.connect(to: pid) {
                    answer = try? RetireSocket.ask(again, request, timeout: clock.now.duration(to: deadline + grace)).get()
                    Syscalls.close(again)
                }
                watch.answered(pid, answer)
            }
            if !DetachedThread.start(name: "daxmap-retire", ask) { ask() }
        }

        // Until every holder let go and every daxmap process answered: plain holders
        // get the deadline, daxmap ones the deadline and a grace to answer.
        watch.wait(deadline: deadline, limit: deadline + grace)
        // Before a removal, the whole of /proc once more: a plain process may have mapped
        // it since the first scan (daxmap processes cannot: it is frozen). A drain only
        // (`none`) looks again at the processes not yet seen letting go (the others were
        // just looked at, or exited), and says nothing of later ones: the whole scan is
        // what dominates a retire on a host with many processes.
        let last = removal == .none
            ? HolderScan.scan(target, pids: Set(watch.stillHolding).union(first.unreadable).sorted())
            : HolderScan.scan(target)
        let answers = watch.answers

        let got = answers.withLock { $0 }
        let refused = got.values.filter(\.refused).map(\.pid).sorted()
        let accepted = got.values.filter { !$0.refused && $0.devices > 0 }
        let stragglers = last.found.map { found in
            DaxHolderProcess(pid: found.pid, command: found.command, mappedRanges: found.ranges,
                             descriptors: found.descriptors, runsDaxmap: daxmapPids.contains(found.pid),
                             holders: got[found.pid].map(\.holders))
        }
        let unseen = othersUnseen(Set(first.unreadable + last.unreadable).filter { !daxmapPids.contains($0) || refused.contains($0) })
        let outcome = RetireRemoval.perform(removal, target, stillHeld: stragglers, unseen: unseen)
        let stillThere = Set(last.found.map(\.pid))
        let foundPids = Set(first.found.map(\.pid)).union(accepted.filter { $0.devices > 0 }.map(\.pid))
        return DaxRetirementReport(
            path: target.path, processesFound: foundPids.count, processesNotified: accepted.count,
            processesReleased: foundPids.subtracting(stillThere).count,
            holdersNotified: accepted.reduce(0) { $0 + $1.holders },
            holdersAnswered: accepted.reduce(0) { $0 + $1.holdersAnswered },
            unansweredHolders: accepted.reduce(0) { $0 + $1.unansweredHolders },
            stragglers: stragglers, refused: refused,
            unreadableProcesses: unseen,
            faultSignals: accepted.reduce(0) { $0 + $1.faultSignals },
            duration: clock.now - started, removal: outcome)
    }
}
