/// What a planned removal (``DaxRetirement/retire(path:deadline:then:)``) did.
public struct DaxRetirementReport: Sendable, Hashable, CustomStringConvertible {
    /// What became of the removal asked for with `then`.
    public enum Outcome: Sendable, Hashable, CustomStringConvertible {
        /// `then: .none`: only drained.
        case notRequested
        /// Disabled or unbound, as described.
        case removed(String)
        /// Not done because processes still hold the device (they are named).
        case withheld(String)
        /// Nothing daxmap can do for this kind of target; what the operator does instead.
        case leftToOperator(String)
        /// The disable or unbind failed.
        case failed(DaxError)

        /// A stable name: `notRequested`, `removed`, `withheld`, `leftToOperator`, `failed`.
        public var name: String {
            switch self {
            case .notRequested: "notRequested"
            case .removed: "removed"
            case .withheld: "withheld"
            case .leftToOperator: "leftToOperator"
            case .failed: "failed"
            }
        }

        /// The detail for people.
        public var description: String {
            switch self {
            case .notRequested: "not requested"
            case .removed(let s), .withheld(let s), .leftToOperator(let s): s
            case .failed(let e): e.description
            }
        }
    }

    /// The path retired.
    public var path: String
    /// Processes found mapping or holding the device when the retire started
    /// (daxmap processes that could not be scanned but answered included).
    public var processesFound: Int
    /// daxmap processes that accepted the request.
    public var processesNotified: Int
    /// Processes found at the start that no longer held anything at the end.
    public var processesReleased: Int
    /// Holders told `preRemove` in every notified process.
    public var holdersNotified: Int
    /// Holders that answered before their process's deadline.
    public var holdersAnswered: Int
    /// Holders that had not answered at their process's deadline.
    public var unansweredHolders: Int
    /// Processes still holding the device at the end (named, never killed).
    public var stragglers: [DaxHolderProcess]
    /// Processes that refused the request (another uid), by pid.
    public var refused: [Int32]
    /// Processes whose maps or descriptors this process could not read
    /// (another user's, without privilege) and that did not answer over the
    /// channel: any may still hold the device. Not 0: not ``succeeded``.
    public var unreadableProcesses: Int
    /// Fault signals the notified processes recorded during their removal (goal: 0).
    public var faultSignals: UInt64
    /// From freeze to unfreeze.
    public var duration: Duration
    /// What became of the removal.
    public var removal: Outcome

    /// Everything let go, nobody refused, every process could be inspected,
    /// and the removal asked for was done.
    public var succeeded: Bool {
        guard stragglers.isEmpty, refused.isEmpty, unreadableProcesses == 0 else { return false }
        switch removal {
        case .notRequested, .removed: return true
        case .withheld, .leftToOperator, .failed: return false
        }
    }

    /// One paragraph for people.
    public var description: String {
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        var text = "\(path): \(processesFound) process(es) found, \(processesNotified) notified, "
            + "\(processesReleased) released in time, \(stragglers.count) straggler(s), \(refused.count) refused, "
            + "\(holdersNotified) holder(s) notified, \(faultSignals) fault signal(s), \(ms) ms; removal: \(removal)"
        if unreadableProcesses > 0 {
            text += "\n\(unreadableProcesses) process(es) could not be inspected (other users' processes; retire as root to see them): released is not claimed"
        }
        for s in stragglers { text += "\nstill held by \(s)" }
        return text
    }
}
