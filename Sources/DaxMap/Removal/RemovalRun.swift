import Glibc
internal import DaxMapSync

/// One removal of a device, run on a thread of its own: freeze, notify, wait
/// for release up to the deadline, revoke, close. Its own thread because the
/// deadline must hold when holders block every thread of the cooperative pool;
/// nothing here waits for a holder call to return.
final class RemovalRun: Sendable {
    let source: RemovalSource
    let deadline: Duration

    private struct State {
        var report: DaxRemovalReport?
        var waiting: [CheckedContinuation<DaxRemovalReport, Never>] = []
        /// Threads' wake-ups (a retire's answer), signalled at completion: no task needed.
        var wakeups: [Wakeup] = []
    }

    private let state = Locked(State())
    /// Poked when the last holder answers, so the wait ends at once; a holder
    /// that answers before it releases is seen by the safety-net look (5 ms).
    /// One wake-up per removal, not one per holder: a thousand holders would
    /// otherwise wake the removal a thousand times.
    private let progress = Wakeup()

    init(source: RemovalSource, deadline: Duration) {
        self.source = source
        self.deadline = deadline
    }

    func poke() { progress.signal() }

    /// The report, once the removal has completed.
    func report() async -> DaxRemovalReport {
        await withCheckedContinuation { (c: CheckedContinuation<DaxRemovalReport, Never>) in
            let done = state.withLock { s -> DaxRemovalReport? in
                if let report = s.report { return report }
                s.waiting.append(c)
                return nil
            }
            if let done { c.resume(returning: done) }
        }
    }

    var completedReport: DaxRemovalReport? { state.withLock { $0.report } }

    /// Signals `wakeup` when the removal completes (at once if it has).
    func signalOnCompletion(_ wakeup: Wakeup) {
        let done = state.withLock { s -> Bool in
            if s.report != nil { return true }
            s.wakeups.append(wakeup)
            return false
        }
        if done { wakeup.signal() }
    }

    /// Sleeps until poked, `limit`, or 5 ms (a safety net), whichever is first.
    func waitForProgress(until limit: ContinuousClock.Instant) {
        let left = ContinuousClock.now.duration(to: limit)
        progress.wait(for: min(left, .milliseconds(5)))
    }

    func complete(_ report: DaxRemovalReport) {
        let (waiting, wakeups) = state.withLock { s -> ([CheckedContinuation<DaxRemovalReport, Never>], [Wakeup]) in
            s.report = report
            defer { s.waiting.removeAll(); s.wakeups.removeAll() }
            return (s.waiting, s.wakeups)
        }
        for w in wakeups { w.signal() }
        for c in waiting { c.resume(returning: report) }
    }
}

extension FailureDispatcher {
    /// Starts the device's removal, or joins the one under way.
    @discardableResult
    func startRemoval(source: RemovalSource, deadline: Duration? = nil) -> RemovalRun {
        let deadline = deadline ?? device.options.removalDeadline
        let (run, start) = state.withLock { s -> (RemovalRun, Bool) in
            if let running = s.removal { return (running, false) }
            let run = RemovalRun(source: source, deadline: deadline)
            s.removal = run
            return (run, true)
        }
        if start {
            // The thread keeps the dispatcher, and so the device's handle (its
            // descriptor), until the removal is done. No thread to be had: run it here rather than never.
            if !DetachedThread.start(name: "daxmap-removal", { self.runRemoval(run) }) { runRemoval(run) }
        }
        return run
    }

    private func runRemoval(_ run: RemovalRun) {
        let clock = ContinuousClock()
        let started = clock.now
        let limit = started + run.deadline
        device.freeze()
        Telemetry.removalStarted(device: device.path, source: run.source, deadline: run.deadline)
        device.publish(.removalStarted(device: device.path, source: run.source))

        // Notify each holder once, with its mappings; mappings nobody holds are revoked at
        // once, and after an abrupt end (a power failure) every mapping is, before anyone is told.
        // Frozen, the device maps nothing new: every mapping listed is of this epoch or older,
        // and a holder that reattaches later knows a late notice of this removal is not its own.
        // What they are told (pre-remove, or removed after an abrupt end) is the vocabulary's: FailureCause(removal:).
        let cause = FailureCause(removal: run.source, epoch: DaxFailure.epochNow)
        let (held, unheld) = DaxRuntime.process.registry.holders(of: device)
        var revoked = unheld.filter { $0.revoke() }.count
        if run.source.isAbrupt { revoked += held.flatMap(\.mappings).filter { $0.revoke() }.count }
        let calls = HolderCalls()
        let everything = 0..<device.size
        for (holder, mappings) in held {
            guard let failure = DaxFailure(device: device.path, range: everything, cause: cause, mappings: mappings) else { continue }
            call(holder, failure, calls: calls, then: { if calls.allAnswered { run.poke() } })
        }
        if !held.isEmpty, let notice = DaxFailure(device: device.path, range: everything, cause: cause) {
            Telemetry.notified(notice, holders: held.count)
            device.publish(.notified(notice, holders: held.count))
        }

        // Wait until every holder has released its mappings and answered, or the deadline.
        let mappings = held.flatMap(\.mappings)
        while clock.now < limit && (mappings.contains { $0.state == .open } || !calls.allAnswered) {
            run.waitForProgress(until: limit)
        }

        // Revoke what is left, close the descriptor (a descriptor open across a
        // device-dax unbind and re-bind trips a kernel refcount bug).
        revoked += mappings.filter { $0.revoke() }.count
        device.markGone()
        let report = DaxRemovalReport(
            device: device.path, source: run.source, holdersNotified: held.count,
            holdersAnswered: calls.answeredCount, holdersHandled: calls.handledCount,
            unansweredHolders: calls.unanswered, mappingsReleased: mappings.count + unheld.count - revoked,
            mappingsRevoked: revoked, duration: clock.now - started)
        Telemetry.removalCompleted(report)
        device.publish(.removalCompleted(report))
        DaxRuntime.process.eventsIfMade?.finish(device)
        run.complete(report)
        // Still watched: the kernel's uevent may come after a fault started the
        // removal, and a later add/bind says the device is back.
    }
}
