import DaxMap
import DaxMapSync
import Glibc
import Synchronization

/// A raw holder of `hold --raw-holders N`: a program that stores to DAX memory
/// through a raw pointer (`withUnsafeMutableBytes`), unguarded, under
/// ``FaultPolicy/replacePages``. When the memory goes under it (an unbind), a
/// store lands in a replacement page instead of killing the process, and the
/// writer goes on until it is told; told of a pre-remove it stops, then closes
/// its mapping. Nothing it writes is acknowledged: it shows that the process
/// lives and what daxmap says was lost (``DaxMapping/lostRanges``).
final class RawWriter: DaxHolder {
    let index: Int
    /// 4 KiB stores completed (each followed by a persist, which may throw after a removal).
    let rounds = Atomic<Int>(0)
    private let stopRequested = Atomic<Bool>(false)
    private let state = Locked<(mapping: DaxMapping?, notifications: [DaxFailure], writer: Task<Void, Never>?)>((nil, [], nil))

    init(index: Int) { self.index = index }

    var notifications: [DaxFailure] { state.withLock { $0.notifications } }
    /// Bytes of its mapping replaced after unguarded faults.
    var bytesLost: UInt64 { state.withLock { $0.mapping }?.lostRanges.reduce(0) { $0 + UInt64($1.count) } ?? 0 }

    func adopt(_ mapping: DaxMapping) { state.withLock { $0.mapping = mapping } }

    func startWriting(pace: Duration) {
        guard let mapping = state.withLock({ $0.mapping }) else { return }
        let task = Task.detached { [self] in
            let page = 4096
            var round = 0
            while !stopRequested.load(ordering: .relaxed) {
                let at = (round * page) % max(mapping.count / page * page, page)
                let value = Int32(truncatingIfNeeded: index &* 37 &+ round)
                // Unguarded: a fault here follows the policy (pages replaced), it is not thrown.
                mapping.withUnsafeMutableBytes { p in _ = memset(p.baseAddress! + at, value, min(page, p.count - at)) }
                try? mapping.persist(at: at, count: min(page, mapping.count - at))
                rounds.add(1, ordering: .relaxed)
                round += 1
                if round % 16 == 0 { try? await Task.sleep(for: pace) }
            }
        }
        state.withLock { $0.writer = task }
    }

    func stop() async {
        stopRequested.store(true, ordering: .relaxed)
        await state.withLock { $0.writer }?.value
    }

    func notifyFailure(_ failure: DaxFailure) async -> Bool {
        state.withLock { $0.notifications.append(failure) }
        guard failure.kind == .preRemove || failure.kind == .removed else { return true }
        await stop()
        state.withLock { $0.mapping }?.close()
        return true
    }
}
