/// A wake-up a thread sleeps on until another signals it or a timeout passes;
/// a signal with nobody waiting is kept for the next wait. For daxmap's own
/// threads (the removal), never for tasks.
final class Wakeup: @unchecked Sendable {
    private let condition = Condition()
    private var pending = false // guarded by the condition's lock

    func signal() {
        condition.lock()
        pending = true
        condition.unlock()
        condition.signal()
    }

    /// Returns when signalled (now or since the last wait) or after `timeout`.
    func wait(for timeout: Duration) {
        let (seconds, attoseconds) = max(timeout, .zero).components
        let deadline = Condition.deadline(after: Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
        condition.lock()
        while !pending && condition.wait(until: deadline) {}
        pending = false
        condition.unlock()
    }
}
