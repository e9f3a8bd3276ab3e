/// A simulated power failure, as ``DaxPersistenceSimulator`` reports it.
public struct DaxPowerFailure: Sendable, Hashable, CustomStringConvertible {
    /// Where in a simulated persistence domain the power can fail.
    public enum Point: String, Sendable, Hashable, CustomStringConvertible {
        /// Before one unit of a guarded write or fill is stored.
        case store
        /// Before one unit of a persist reaches the media.
        case flush
        /// Before a persist's final drain (every unit of it has reached the media).
        case fence
        /// ``DaxPersistenceSimulator/failPower()``, between points.
        case request

        public var description: String { rawValue }
    }

    /// The device's path.
    public var device: String
    /// The seed of the simulation (print it: the same seed replays the run).
    public var seed: UInt64
    /// The number of the point the power failed at (points passed before it, plus one).
    public var point: Int
    /// What kind of point it was.
    public var kind: Point
    /// Units that guarded stores had dirtied and neither a persist nor an
    /// eviction had written: their stores are lost.
    public var unitsLost: Int
    /// Units written to the media by persists (flush points), and by eviction, before the failure.
    public var unitsPersisted: Int
    public var unitsEvicted: Int
    /// Persist calls skipped on purpose (``DaxPersistenceSimulation/skipPersistEvery``).
    public var persistsSkipped: Int

    public var description: String {
        "power failure on \(device) at point \(point) (\(kind)), seed \(seed): \(unitsLost) dirty units lost, \(unitsPersisted) persisted, \(unitsEvicted) evicted"
            + (persistsSkipped > 0 ? ", \(persistsSkipped) persists skipped on purpose" : "")
    }
}
