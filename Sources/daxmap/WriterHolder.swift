import DaxMap
import Synchronization
import DaxMapSync

/// A holder with one writer: appends checksummed records to its mapping,
/// persists each, and counts it acknowledged only once persisted. On a
/// failure in its range it stops writing; on pre-remove it stops and releases
/// its mapping (unless it plays the stubborn holder, which the deadline revokes).
final class WriterHolder: DaxHolder {
    let index: Int
    let stubborn: Bool
    /// Records acknowledged as persisted.
    let acknowledged = Atomic<Int>(0)
    /// Guarded accesses that threw instead of crashing.
    let faultsCaught = Atomic<Int>(0)
    private let stopRequested = Atomic<Bool>(false)
    private let state = Locked<State>(State())

    struct State {
        var mapping: DaxMapping?
        var notifications: [DaxFailure] = []
        var lastError: DaxError?
        var writer: Task<Void, Never>?
        var released = false
    }

    init(index: Int, stubborn: Bool = false) {
        self.index = index
        self.stubborn = stubborn
    }

    var notifications: [DaxFailure] { state.withLock { $0.notifications } }
    var lastError: DaxError? { state.withLock { $0.lastError } }
    var released: Bool { state.withLock { $0.released } }
    var mapping: DaxMapping? { state.withLock { $0.mapping } }
    /// Records the mapping can hold.
    var capacity: Int { (mapping?.count ?? 0) / RecordFormat.size }

    func adopt(_ mapping: DaxMapping) { state.withLock { $0.mapping = mapping } }

    /// Writes up to `count` more records (nil: until stopped or full), yielding between records.
    func startWriting(count: Int? = nil, pace: Duration? = nil) {
        stopRequested.store(false, ordering: .relaxed)
        let task = Task.detached { [self] in
            var written = 0
            var record = [UInt8](repeating: 0, count: RecordFormat.size)
            while !stopRequested.load(ordering: .relaxed), count.map({ written < $0 }) ?? true {
                guard let mapping = self.mapping else { return }
                let sequence = acknowledged.load(ordering: .relaxed)
                guard sequence < capacity else { return }
                record.withUnsafeMutableBytes { RecordFormat.encode(holder: index, sequence: UInt64(sequence), into: $0) }
                do {
                    try record.withUnsafeBytes { try mapping.write($0, at: sequence * RecordFormat.size, persist: true) }
                    acknowledged.add(1, ordering: .releasing)
                    written += 1
                } catch {
                    faultsCaught.add(1, ordering: .relaxed)
                    state.withLock { $0.lastError = asDaxError(error) }
                    return
                }
                if let pace { try? await Task.sleep(for: pace) } else if written % 16 == 0 { await Task.yield() }
            }
        }
        state.withLock { $0.writer = task }
    }

    /// Waits for the current writer to stop by itself (count reached, full, or failed).
    func waitForWriter() async {
        let writer = state.withLock { $0.writer }
        await writer?.value
    }

    func stop() async {
        stopRequested.store(true, ordering: .relaxed)
        await waitForWriter()
    }

    func notifyFailure(_ failure: DaxFailure) async -> Bool {
        state.withLock { $0.notifications.append(failure) }
        switch failure.kind {
        case .preRemove:
            await stop()
            if stubborn { return false }
            let mapping = state.withLock { s -> DaxMapping? in
                s.released = true
                return s.mapping
            }
            mapping?.close()
            return true
        case .removed, .pagesLost, .memoryFailureActionRequired, .memoryFailureActionOptional:
            // The range is damaged: stop appending; acknowledged records stay valid.
            await stop()
            return true
        }
    }
}
