internal import CDaxMap
import Glibc
import Synchronization

/// daxmap's copy workers, for large writes and fills split across threads:
/// on many machines one thread streams only about half of what the memory
/// takes. Threads of daxmap's own (never the cooperative pool), started on
/// first use, kept, each with its alternate signal stack, so a fault in any of
/// them is caught by the guard as in a single-threaded copy. The caller runs
/// the first part itself. Part of ``DaxRuntime``.
final class CopyEngine: @unchecked Sendable {    /// Worker threads at most (the caller makes one more).
    static let maximumWorkers = 15
    /// How long an idle worker spins for the next part before it sleeps: a
    /// futex wake costs tens of microseconds (more in a VM), as much as a
    /// 1 MiB part takes, so back-to-back large writes find their workers awake.
    static let idleSpinNanoseconds: UInt64 = 50_000
    /// How long the caller, its own part done, spins for the others before it sleeps.
    static let finishSpinNanoseconds: UInt64 = 200_000

    /// One part of a copy or fill: `count` bytes at `destination`.
    struct Part: @unchecked Sendable {
        var destination: UnsafeMutableRawPointer
        /// nil: a fill with `value`.
        var source: UnsafeRawPointer?
        var value: CInt
        var count: Int
        var streaming: Bool
    }

    /// The parts of one call, and their outcomes.
    private final class Batch: @unchecked Sendable {
        let condition = Condition()
        /// Parts not yet done; changed under `condition`, read by the spinning caller.
        let remaining: Atomic<Int>
        var faults: [cdaxmap_fault?] // under `condition`
        init(_ n: Int) {
            remaining = Atomic(n)
            faults = Array(repeating: nil, count: n)
        }

        func finish(_ index: Int, _ fault: cdaxmap_fault?) {
            condition.lock()
            faults[index] = fault
            if remaining.subtract(1, ordering: .releasing).newValue == 0 { condition.signal() }
            condition.unlock()
        }
    }

    private let condition = Condition()
    /// Parts queued and not yet taken: what an idle worker spins on.
    private let pending = Atomic<Int>(0)
    // Under `condition`:
    private var queue: [(Part, Batch, Int)] = []
    private var workers = 0

    /// Runs every part (the first on the calling thread) and returns each
    /// part's fault, if it had one.
    func run(_ parts: [Part]) -> [cdaxmap_fault?] {
        let batch = Batch(parts.count)
        if parts.count > 1 {
            condition.lock()
            let wanted = min(parts.count - 1, Self.maximumWorkers)
            while workers < wanted {
                guard DetachedThread.start(name: "daxmap-copy", { self.work() }) else { break }
                workers += 1
            }
            let helped = workers > 0
            if helped {
                for i in 1..<parts.count { queue.append((parts[i], batch, i)) }
                pending.add(parts.count - 1, ordering: .releasing)
                for _ in 1..<parts.count { condition.signal() }
            }
            condition.unlock()
            if !helped { // no thread to be had: all of it here
                for i in 1..<parts.count { batch.finish(i, Self.perform(parts[i])) }
            }
        }
        batch.finish(0, Self.perform(parts[0]))
        Self.spin(Self.finishSpinNanoseconds) { batch.remaining.load(ordering: .acquiring) == 0 }
        batch.condition.lock()
        while batch.remaining.load(ordering: .acquiring) > 0 {
            _ = batch.condition.wait(until: Condition.deadline(after: 1_000_000_000))
        }
        let faults = batch.faults
        batch.condition.unlock()
        return faults
    }

    private func work() {
        Persistence.prepareThread()
        while true {
            Self.spin(Self.idleSpinNanoseconds) { pending.load(ordering: .relaxed) > 0 }
            condition.lock()
            while queue.isEmpty { _ = condition.wait(until: Condition.deadline(after: 60_000_000_000)) }
            let (part, batch, index) = queue.removeFirst()
            pending.subtract(1, ordering: .relaxed)
            condition.unlock()
            batch.finish(index, Self.perform(part))
        }
    }

    /// Spins until `ready()` or `nanoseconds` have passed (the caller checks
    /// again under its lock either way).
    private static func spin(_ nanoseconds: UInt64, until ready: () -> Bool) {
        let start = Condition.now()
        repeat {
            for _ in 0..<64 {
                if ready() { return }
                cdaxmap_pause()
            }
        } while Condition.now() &- start < nanoseconds
    }

    /// One part through the guarded routines; its streaming stores drained
    /// here (a fence orders only its own thread's stores).
    private static func perform(_ p: Part) -> cdaxmap_fault? {
        var fault = cdaxmap_fault()
        let rc = if let source = p.source {
            cdaxmap_copy_guarded(p.destination, source, p.count, p.streaming ? 1 : 0, &fault)
        } else {
            cdaxmap_fill_guarded(p.destination, p.value, p.count, p.streaming ? 1 : 0, &fault)
        }
        if p.streaming { cdaxmap_sfence() }
        return rc == 0 ? nil : fault
    }
}
