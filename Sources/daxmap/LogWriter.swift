import DaxLog
import DaxMap
import Synchronization
import DaxMapSync

/// One holder of `hold` and `demo`: a DaxLog over its slice and a writer task
/// appending ``RecordPayload`` records. A record counts as acknowledged only
/// once `append` returned its number (persistent). The log is the holder: it
/// seals and releases on pre-remove and marks records lost on media failures.
final class LogWriter: Sendable {
    let index: Int
    let log: DaxLog
    /// Records acknowledged (their numbers are 0..<acknowledged, minus any lost).
    let acknowledged = Atomic<Int>(0)
    /// One past the last acknowledged sequence number.
    let acknowledgedThrough = Atomic<UInt64>(0)
    /// Appends that threw instead of crashing.
    let faultsCaught = Atomic<Int>(0)
    private let stopRequested = Atomic<Bool>(false)
    private let state = Locked<(writer: Task<Void, Never>?, lastError: DaxLogError?)>((nil, nil))

    init(index: Int, log: DaxLog) {
        self.index = index
        self.log = log
    }

    var notifications: [DaxFailure] { log.failuresReceived }
    var lastError: DaxLogError? { state.withLock { $0.lastError } }

    /// Appends up to `count` more records (nil: until stopped, full or failed).
    func startWriting(count: Int? = nil, pace: Duration? = nil) {
        stopRequested.store(false, ordering: .relaxed)
        let task = Task.detached { [self] in
            var written = 0
            while !stopRequested.load(ordering: .relaxed), count.map({ written < $0 }) ?? true {
                let sequence = log.nextSequence
                do throws(DaxLogError) {
                    let s = try log.append(RecordPayload.bytes(holder: index, sequence: sequence))
                    acknowledged.add(1, ordering: .releasing)
                    acknowledgedThrough.store(s + 1, ordering: .releasing)
                    written += 1
                } catch {
                    if error.code != .full { faultsCaught.add(1, ordering: .relaxed) }
                    state.withLock { $0.lastError = error }
                    return
                }
                if let pace { try? await Task.sleep(for: pace) } else if written % 16 == 0 { await Task.yield() }
            }
        }
        state.withLock { $0.writer = task }
    }

    func waitForWriter() async {
        let writer = state.withLock { $0.writer }
        await writer?.value
    }

    func stop() async {
        stopRequested.store(true, ordering: .relaxed)
        await waitForWriter()
    }
}
