import DaxLog
import DaxMap
import DaxMapTesting

/// One cycle of a ``DaxLogCrashTest``: the workload, the power failure, the recovery, the check.
public struct DaxLogCrashTestCycle: Sendable, Hashable, CustomStringConvertible {
    /// The cycle's number in its run (0 first).
    public var index: Int
    /// The cycle's seed (derived from the run's seed and the index).
    public var seed: UInt64
    /// The power failure (nil only when the cycle could not get that far).
    public var powerFailure: DaxPowerFailure?
    /// Points (stores, flushes, fences) the workload reached, the one the power failed at included.
    public var workloadPoints: Int
    /// Appends (single records and batches) the writers began.
    public var appendsBegun: Int
    /// Records whose append returned: the log promised them.
    public var acknowledged: Int
    /// Checkpoints (`DaxLog/discard(upTo:)`) that returned.
    public var checkpoints: Int
    /// Records the recovered log returned.
    public var recovered: Int
    /// Acknowledged, live records not returned intact by the recovered log.
    public var lost: Int
    /// Records returned that no writer appended as they are.
    public var corrupt: Int
    /// The recovery scan stopped at a torn tail (a record being written when the power failed).
    public var tornTail: Bool
    /// The recovered log's head is before an acknowledged checkpoint (discarded records came back).
    public var checkpointLost: Bool
    /// Why the recovery scan stopped.
    public var recoveryStop: String
    /// What went wrong besides the power failure itself (a workload error, or
    /// a log that could not be opened again); nil when nothing did.
    public var error: String?

    /// Nothing acknowledged was lost, nothing false returned, nothing else failed.
    public var passed: Bool { lost == 0 && corrupt == 0 && !checkpointLost && error == nil }

    public var description: String {
        let failure = powerFailure.map { "power failed at point \($0.point) (\($0.kind))" } ?? "no power failure"
        return "cycle \(index) (seed \(seed)): \(failure); \(acknowledged) acknowledged, \(recovered) recovered, \(lost) lost, \(corrupt) corrupt"
            + (tornTail ? ", torn tail" : "") + (checkpointLost ? ", checkpoint lost" : "") + (error.map { "; \($0)" } ?? "")
    }
}

/// What a ``DaxLogCrashTest`` run found, summed over its cycles.
public struct DaxLogCrashTestReport: Sendable, Hashable, CustomStringConvertible {
    /// The run's seed: the same seed and configuration replay the same run.
    public var seed: UInt64
    public var cycles: Int
    public var recordsAcknowledged: Int
    public var recordsRecovered: Int
    public var recordsLost: Int
    public var recordsCorrupt: Int
    /// Cycles whose recovery stopped at a torn tail.
    public var tornTails: Int
    public var checkpointsLost: Int
    /// Units written to the media by eviction, and persists skipped on purpose, over all cycles.
    public var unitsEvicted: Int
    public var persistsSkipped: Int
    /// Power failures by the kind of point they hit (`store`, `flush`, `fence`, `request`).
    public var powerFailures: [String: Int]
    /// The cycles that did not pass, in order (each with its seed).
    public var failedCycles: [DaxLogCrashTestCycle]

    /// Every cycle passed.
    public var passed: Bool { failedCycles.isEmpty }

    public var description: String {
        "\(cycles) cycles (seed \(seed)): \(recordsAcknowledged) records acknowledged, \(recordsRecovered) recovered, "
            + "\(recordsLost) lost, \(recordsCorrupt) corrupt, \(tornTails) torn tails, \(checkpointsLost) checkpoints lost"
    }
}
