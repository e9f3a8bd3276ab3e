import Glibc
internal import DaxMapSync

/// This process's end of the retire channel: the devices it uses (mapped or
/// watched: ``DaxRuntime/enroll(_:)``), and one thread (`daxmap-retire`)
/// blocked in `accept` on `\0daxmap.<pid>`, started at the first device
/// registered. It costs nothing until a request comes; each request is
/// served on a thread of its own (a retire waits for a deadline). Part of
/// ``DaxRuntime``.
///
/// Only uid 0 and this process's own uid may ask (`SO_PEERCRED`); anyone else
/// gets a refusal and is counted (``DaxRetirement/refusedRequests``).
final class RetireChannel: Sendable {
    private struct Entry: Sendable {
        weak var device: DaxDevice?
    }

    private struct State: Sendable {
        var listening = false
        var devices: [ObjectIdentifier: Entry] = [:]
        var refused = 0
        var serving = 0
    }

    /// Requests served at once; more connections are closed unanswered, so a
    /// local user who opens thousands cannot exhaust this process's threads.
    static let maximumServing = 8

    private let state = Locked(State())

    /// Requests refused because of the asker's uid.
    var refusedRequests: Int { state.withLock { $0.refused } }

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
        guard start, let fd = RetireSocket.listen() else { return }
        // A process often exits as soon as its removal is done (`daxmap hold`
        // does): the answer to the retire that asked for it must leave first.
        Syscalls.atExit { DaxRuntime.process.retireChannel.settle(within: .seconds(2)) }
        if !DetachedThread.start(name: "daxmap-retire", { self.accept(on: fd) }) { Syscalls.close(fd) }
    }

    /// Waits, at most `limit`, until no request is being served: the answers
    /// of retires in flight are sent (one lost to the exit made a retire count
    /// a process released but not notified, 2 runs in 5 on a busy host).
    func settle(within limit: Duration) {
        let end = ContinuousClock.now + limit
        while state.withLock({ $0.serving }) > 0 && ContinuousClock.now < end { Syscalls.sleep(.milliseconds(1)) }
    }

    /// Open devices of this process with `key` among their retire keys.
    func devices(matching key: String) -> [DaxDevice] {
        state.withLock { s in s.devices.values.compactMap(\.device) }
            .filter { $0.lifecycle == .alive || $0.lifecycle == .going }
            .filter { RetireTarget.keys(of: $0.identity, kind: $0.kind).contains(key) }
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
            let admitted = state.withLock { s -> Bool in
                guard s.serving < Self.maximumServing else { return false }
                s.serving += 1
                return true
            }
            guard admitted else { Syscalls.close(connection); continue }
            let serveOne: @Sendable () -> Void = {
                self.serve(connection)
                self.state.withLock { $0.serving -= 1 }
            }
            if !DetachedThread.start(name: "daxmap-retire", serveOne) { serveOne() }
        }
    }

    private func serve(_ fd: CInt) {
        defer { Syscalls.close(fd) }
        let uid = RetireSocket.peerUID(fd)
        // Read the request first, even one to refuse: closing a connection with an
        // unread message resets it, and the asker would not see the refusal.
        let text = RetireSocket.receive(fd, timeout: .seconds(5))
        guard let uid, uid == 0 || uid == Syscalls.userID() else {
            state.withLock { $0.refused += 1 }
            var answer = RetireWire.Answer(pid: Syscalls.processID())
            answer.refused = true
            answer.reason = "uid \(uid.map(String.init) ?? "unknown") may not ask process \(Syscalls.processID()) (uid \(Syscalls.userID())): only root or the same uid"
            // Nothing is left to do when the asker is gone before the refusal reaches it.
            RetireSocket.send(fd, RetireWire.encode(answer))
            return
        }
        guard let text, let request = RetireWire.decodeRequest(String(decoding: text, as: UTF8.self)) else { return }
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
            let faultsBefore = DaxMonitor.statistics.faultsRecorded
            let deadline = Duration.milliseconds(ms)
            let runs = devices.map { $0.dispatcher.startRemoval(source: .operator, deadline: deadline) }
            // The removals keep their deadline on their own threads; this bound only guards against a bug.
            let limit = ContinuousClock.now + deadline + .seconds(5)
            while ContinuousClock.now < limit && runs.contains(where: { $0.completedReport == nil }) {
                Syscalls.sleep(.milliseconds(2))
            }
            let reports = runs.compactMap(\.completedReport)
            answer.devices = devices.count
            answer.holders = reports.reduce(0) { $0 + $1.holdersNotified }
            answer.holdersAnswered = reports.reduce(0) { $0 + $1.holdersAnswered }
            answer.unansweredHolders = reports.reduce(0) { $0 + $1.unansweredHolders.count }
            answer.mappings = reports.reduce(0) { $0 + $1.mappingsRevoked }
            answer.faultSignals = DaxMonitor.statistics.faultsRecorded &- faultsBefore
            answer.released = reports.count == runs.count && answer.unansweredHolders == 0 && answer.mappings == 0
                && devices.allSatisfy { $0.lifecycle == .gone || $0.lifecycle == .closed }
        }
        return answer
    }
}
