internal import CDaxMap
import Glibc

/// daxmap's copy workers, for large writes and fills split across threads:
/// one thread streams only about half of what the memory takes. Threads of
/// daxmap's own (never the cooperative pool), started on first use, kept, each
/// with its alternate signal stack, so a fault in any of them is caught by the
/// guard as in a single-threaded copy. The caller runs the first part itself.
final class CopyEngine: @unchecked Sendable {
    static let shared = CopyEngine()
    /// Worker threads at most (the caller makes one more).
    static let maximumWorkers = 15

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
        var remaining: Int
        var faults: [cdaxmap_fault?]
        init(_ n: Int) {
            remaining = n
            faults = Array(repeating: nil, count: n)
        }
    }

    private let condition = Condition()
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
                guard DetachedThread.start(name: "daxmap-copy", { CopyEngine.shared.work() }) else { break }
                workers += 1
            }
            let helped = workers > 0
            if helped {
                for i in 1..<parts.count { queue.append((parts[i], batch, i)) }
                for _ in 1..<parts.count { condition.signal() }
            }
            condition.unlock()
            if !helped { // no thread to be had: all of it here
                for i in 1..<parts.count { batch.faults[i] = Self.perform(parts[i]) }
                batch.remaining = 1
            }
        }
        let first = Self.perform(parts[0])
        batch.condition.lock()
        batch.faults[0] = first
        batch.remaining -= 1
        while batch.remaining > 0 { _ = batch.condition.wait(until: Condition.deadline(after: 1_000_000_000)) }
        let faults = batch.faults
        batch.condition.unlock()
        return faults
    }

    private func work() {
        Persistence.prepareThread()
        while true {
            condition.lock()
            while queue.isEmpty { _ = condition.wait(until: Condition.deadline(after: 60_000_000_000)) }
            let (part, batch, index) = queue.removeFirst()
            condition.unlock()
            let fault = Self.perform(part)
            batch.condition.lock()
            batch.faults[index] = fault
            batch.remaining -= 1
            if batch.remaining == 0 { batch.condition.signal() }
            batch.condition.unlock()
        }
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
