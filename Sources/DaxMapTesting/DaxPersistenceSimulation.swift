import DaxMap

/// A simulated persistence domain for an emulated device: a test facility that
/// loses what was not persisted, as a power failure does.
///
/// Killing a process never loses a store: the page cache (or the DRAM behind
/// `/dev/shm`) keeps every store, flushed or not, so a missing persist passes
/// every `SIGKILL` test. Under a simulation the device's mappings show a
/// "CPU cache" (memory of this process), and only what is persisted — by
/// `DaxMapping/persist(at:count:)`, a persisting `DaxMapping/write(_:at:persist:)`
/// or `DaxMapping/fill(_:at:count:persist:)` — reaches the file, one unit
/// (cache line or page) at a time. ``DaxPersistenceSimulator/failPower()``, or a
/// power failure scheduled at a point, drops the rest; the next open sees only
/// what was persisted (plus what eviction wrote).
///
/// Slower than the real thing, and never the default:
/// ```swift
/// var options = DaxDevice.OpenOptions()
/// options.simulation = DaxPersistenceSimulation(seed: 42, evictionProbability: 0.1)
/// let device = try DaxDevice.createEmulated(at: "/tmp/sim.img", size: 1 << 20, options: options)
/// ```
///
/// What the model is:
/// - Stores by guarded writes and fills are stored one unit at a time, each a
///   **store point**; a persist flushes each unit of its range (a **flush point**:
///   the unit reaches the file) and then drains (a **fence point**).
/// - **Eviction** (optional, seeded): after each point, with
///   `evictionProbability`, one unit that guarded stores dirtied and no persist
///   has written yet reaches the file, whole, as a CPU cache evicts a line —
///   so code that relies on "not persisted yet means not on the media" is caught.
///   Raw stores (`DaxMapping/withUnsafeMutableBytes(_:)`) reach the file only
///   when persisted.
/// - The cache belongs to the opened device: another process, or another open
///   of the same file, sees only what was persisted. Replay is exact for one thread: the same seed and the
///   same calls give the same points, evictions and outcome.
public struct DaxPersistenceSimulation: Sendable, Hashable {
    /// The unit stores are made persistent in: `.cacheLine` (64 bytes, the
    /// default: a cache-line device on a host without pmem) or `.page`.
    public var granularity: StoreGranularity
    /// The seed of every random choice; nil picks one (see ``DaxPersistenceSimulator/seed``).
    public var seed: UInt64?
    /// The chance, after each point, that one dirty unit is evicted to the file (0: never).
    public var evictionProbability: Double
    /// The power fails at this point (1 is the first store, flush or fence
    /// after opening): that point does not happen, nor does anything after it.
    /// Counted from each open: `DaxDevice/reopen()` (same options) fails at
    /// the same point again; open without it to recover.
    public var powerFailureAtPoint: Int?
    /// Breaks persistence on purpose, to prove a test catches it: every
    /// `skipPersistEvery`-th persist call returns as if done but writes nothing
    /// (as a writer that forgot its flush would). Nil: every persist persists.
    public var skipPersistEvery: Int?

    public init(granularity: StoreGranularity = .cacheLine, seed: UInt64? = nil, evictionProbability: Double = 0,
                powerFailureAtPoint: Int? = nil, skipPersistEvery: Int? = nil) {
        self.granularity = granularity
        self.seed = seed
        self.evictionProbability = evictionProbability
        self.powerFailureAtPoint = powerFailureAtPoint
        self.skipPersistEvery = skipPersistEvery
    }

    /// Bytes of one unit.
    var unitSize: Int { granularity == .page ? Syscalls.pageSize : 64 }

    /// Refuses what cannot be simulated, naming it.
    func validate(path: String) throws(DaxError) {
        guard granularity == .cacheLine || granularity == .page else {
            throw DaxError(.invalidArgument, operation: "open", path: path,
                           message: "a simulated persistence domain is cache-line or page granular, not \(granularity) (byte granularity has nothing to lose)")
        }
        guard evictionProbability.isFinite, (0...1).contains(evictionProbability) else {
            throw DaxError(.invalidArgument, operation: "open", path: path,
                           message: "the eviction probability must be between 0 and 1, not \(evictionProbability)")
        }
        if let p = powerFailureAtPoint, p < 1 {
            throw DaxError(.invalidArgument, operation: "open", path: path,
                           message: "the power failure point must be 1 or more (1 is the first store, flush or fence), not \(p)")
        }
        if let n = skipPersistEvery, n < 1 {
            throw DaxError(.invalidArgument, operation: "open", path: path,
                           message: "skipPersistEvery must be 1 or more, not \(n)")
        }
    }
}
