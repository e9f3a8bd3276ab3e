import Glibc
internal import DaxMapSync

/// This process's end of the retire channel: the devices it uses (mapped or
/// watched: ``DaxRuntime/enroll(_:)``), and one thread (`daxmap-retire`)
/// blocked in `accept` on its socket (``RetireSocket``, in a directory only its
/// uid can enter), started at the first device registered. It costs nothing
/// until a request comes; each request is served on a thread of its own (a
/// retire waits for a deadline).
///
/// Only uid 0 and this process's own uid may ask (`SO_PEERCRED`); anyone else
/// gets a refusal and is counted (``DaxRetirement/refusedRequests``). Each
/// peer uid has its own bound on connections served at once, other users a
/// smaller one, and a connection that sends nothing is closed after
/// ``idleTimeout``: a request of root or of this uid never waits behind
/// another user's connections. A channel that cannot be set up is a
/// ``DaxMonitorEvent/retireChannelUnavailable(reason:)`` event, a `warning`
/// log and ``DaxRetirement/channelFailures``.
final class RetireChannel: Sendable {
    private struct Entry: Sendable {
        weak var device: DaxDevice?
    }

    private struct State: Sendable {
        var listening = false
        var listener: RetireSocket.Listener?
        var devices: [ObjectIdentifier: Entry] = [:]
        var refused = 0
        /// Connections turned away: over a uid's bound, or idle past the timeout.
        var dropped = 0
        var failures = 0
        var failure: String?
        /// Connections being served, by peer uid.
        var serving: [uid_t: Int] = [:]
        /// Requests of allowed peers read and not yet answered.
        var answering = 0
    }

    /// Connections of one allowed peer uid (root, this uid) served at once;
    /// more are closed unanswered, so nobody exhausts this process's threads.
    static let maximumServing = 8
    /// Connections of one other uid served at once (each only to be refused).
    static let maximumServingOthers = 2
    /// A connection that sends no request within this is closed.
    static let idleTimeout: Duration = .seconds(1)

    private let state = Locked(State())
    /// Signalled when the last request being answered is answered (``settle(within:)``).
    private let answered = Wakeup()

    /// Requests refused because of the asker's uid.
    var refusedRequests: Int { state.withLock { $0.refused } }
    /// Connections closed unanswered: over their uid's bound, or idle too long.
    var droppedConnections: Int { state.withLock { $0.dropped } }
    /// Times the channel could not be set up, and the last reason.
    var failures: (count: Int, reason: String?) { state.withLock { ($0.failures, $0.failure) } }
    /// Where this process listens, once it does.
    var socketPath: String? { state.withLock { $0.listener.map { $0.directoryPath + "/" + $0.name } } }

    /// Whether a device was registered, so the channel is bound (or was tried).
    var isListening: Bool { state.withLock { $0.listening } }

    /// Remembers `device` (weakly) and starts listening if nothing listens yet.
    func register(_ device: DaxDevice) {
        let start = state.withLock { s -> Bool in
            s.devices = s.devices.filter { $0.value.device != nil }
            s.devices[ObjectIdentifier(device)] = Entry(device: device)
            defer { s.listening = true }
            return !s.listening
        }
        guard start else { return }
        let listener: RetireSocket.Listener
        switch RetireSocket.listen() {
        case .success(let l): listener = l
        case .failure(let problem):
            let reason = problem.reason
            state.withLock { s in
                s.failures += 1
                s.failure = reason
            }
            Telemetry.logger?.warning("retire channel unavailable: a retire cannot reach this process's holders",
                                      metadata: ["reason": "\(reason)", "pid": "\(Syscalls.processID())"])
            DaxRuntime.process.eventsIfMade?.publish(.retireChannelUnavailable(reason: reason))
            return
        }
        state.withLock { $0.listener = listener }
        // A process often exits as soon as its removal is done (`daxmap hold`
        // does): the answer to the retire that asked for it must leave first.
        Syscalls.atExit {
            let channel = DaxRuntime.process.retireChannel
            channel.settle(within: .seconds(2))
            channel.state.withLock { $0.listener }?.unlinkName()
        }
        if !DetachedThread.start(name: "daxmap-retire", { self.accept(on: listener.fd) }) { Syscalls.close(listener.fd) }
    }

    /// Waits, at most `limit`, until no request of an allowed peer is being
    /// answered: the answers of retires in flight are sent (one lost to the exit
    /// made a retire count a process released but not notified). Idle
    /// connections and other users' do not hold the exit up.
    func settle(within limit: Duration) {
        let end = ContinuousClock.now + limit
        while state.withLock({ $0.answering }) > 0 && ContinuousClock.now < end {
            answered.wait(for: ContinuousClock.now.duration(to: end))
        }
    }

    /// Open devices of this process with `key` among their retire keys.
    func devices(matching key: String) -> [DaxDevice] {
        state.withLock { s in s.devices.values.compactMap(\.device) }
            .filter { $0.lifecycle == .alive || $0.lifecycle == .going }
            .filter { RetireTarget.keys(of: $0.identity, kind: $0.kind).contains(key) }
    }

    private static func allowed(_ uid: uid_t?) -> Bool {
        guard let uid else { return false }
        return uid == 0 || uid == Syscalls.userID() || uid == Syscalls.effectiveUserID()
    }

    private func accept(on fd: CInt) {
        while true {
            let connection: CInt
            switch Syscalls.accept(fd) {
            case .success(let c): connection = c
            case .failure(.interrupted): continue
            case .failure:
                Syscalls.sleep(.milliseconds(100)) // EMFILE and the like: try again later
                continue
            }
            // Read at accept: the bound is per peer uid, so one uid's connections never crowd out another's.
            let uid = RetireSocket.peerUID(connection)
            let allowed = Self.allowed(uid)
            let key = uid ?? uid_t.max
            let admitted = state.withLock { s -> Bool in
                guard s.serving[key, default: 0] < (allowed ? Self.maximumServing : Self.maximumServingOthers) else {
                    s.dropped += 1
                    if !allowed { s.refused += 1 }
                    return false
                }
                s.serving[key, default: 0] += 1
                return true
            }
            guard admitted else { Syscalls.close(connection); continue }
            let serveOne: @Sendable () -> Void = {
                self.serve(connection, uid: uid, allowed: allowed)
                self.state.withLock { s in
                    s.serving[key, default: 1] -= 1
                    if s.serving[key] == 0 { s.serving[key] = nil }
                }
            }
            if !DetachedThread.start(name: "daxmap-retire", serveOne) { serveOne() }
        }
    }

    private func serve(_ fd: CInt, uid: uid_t?, allowed: Bool) {
        defer { Syscalls.close(fd) }
        // Read the request first, even one to refuse: closing a connection with an
        // unread message resets it, and the asker would not see the refusal.
        let text = RetireSocket.receive(fd, timeout: Self.idleTimeout)
        guard allowed else {
            state.withLock { $0.refused += 1 }
            var answer = RetireWire.Answer(pid: Syscalls.processID())
            answer.refused = true
            answer.reason = "uid \(uid.map(String.init) ?? "unknown") may not ask process \(Syscalls.processID()) (uid \(Syscalls.userID())): only root or the same uid"
            // Nothing is left to do when the asker is gone before the refusal reaches it.
            RetireSocket.send(fd, RetireWire.encode(answer))
            return
        }
        guard let text, let request = RetireWire.decodeRequest(String(decoding: text, as: UTF8.self)) else {
            if text == nil { state.withLock { $0.dropped += 1 } }
            return
        }
        state.withLock { $0.answering += 1 }
        defer {
            if state.withLock({ s -> Bool in s.answering -= 1; return s.answering == 0 }) { answered.signal() }
        }
        // An asker that left before its answer learns nothing more by a retry.
        RetireSocket.send(fd, RetireWire.encode(answer(request)))
    }

    func answer(_ request: RetireWire.Request) -> RetireWire.Answer {
        var answer = RetireWire.Answer(pid: Syscalls.processID())
        switch request {
        case .status(let key):
            let devices = self.devices(matching: key)
            answer.devices = devices.count
            for device in devices {
                let (held, unheld) = DaxRuntime.process.registry.holders(of: device.handle)
                answer.holders += held.count
                answer.mappings += held.reduce(0) { $0 + $1.mappings.filter(\.isUsable).count }
                    + unheld.filter(\.isUsable).count
            }
            answer.released = answer.mappings == 0
        case .retire(let key, let ms):
            let devices = self.devices(matching: key)
            // Per device: faults of this process on other devices are not this retire's.
            let faultsBefore = devices.map { $0.dispatcher.faultsSeen.load(ordering: .relaxed) }
            let deadline = Duration.milliseconds(ms)
            let runs = devices.map { $0.dispatcher.startRemoval(source: .operator, deadline: deadline) }
            let reports = Self.awaitReports(runs, limit: ContinuousClock.now + deadline + .seconds(5))
            answer.devices = devices.count
            answer.holders = reports.reduce(0) { $0 + $1.holdersNotified }
            answer.holdersAnswered = reports.reduce(0) { $0 + $1.holdersAnswered }
            answer.unansweredHolders = reports.reduce(0) { $0 + $1.unansweredHolders.count }
            answer.mappings = reports.reduce(0) { $0 + $1.mappingsRevoked }
            answer.faultSignals = zip(devices, faultsBefore).reduce(0) { sum, pair in
                sum &+ (pair.0.dispatcher.faultsSeen.load(ordering: .relaxed) &- pair.1)
            }
            answer.released = reports.count == runs.count && answer.unansweredHolders == 0 && answer.mappings == 0
                && devices.allSatisfy { $0.lifecycle == .gone || $0.lifecycle == .closed }
        }
        return answer
    }

    /// The reports of `runs`, woken as each completes (the removal signals the
    /// wake-up: no polling, no task); those not complete by `limit` (only a bug:
    /// a removal keeps its own deadline) are left out.
    static func awaitReports(_ runs: [RemovalRun], limit: ContinuousClock.Instant) -> [DaxRemovalReport] {
        let done = Wakeup()
        for run in runs { run.signalOnCompletion(done) }
        while ContinuousClock.now < limit && runs.contains(where: { $0.completedReport == nil }) {
            done.wait(for: ContinuousClock.now.duration(to: limit))
        }
        return runs.compactMap(\.completedReport)
    }
}
