import DaxMap

extension DaxDevice.OpenOptions {
    /// Open an emulated device with a simulated persistence domain, which
    /// loses what was not persisted when the power fails (a test facility;
    /// see ``DaxPersistenceSimulation``). Its granularity is the device's.
    public var simulation: DaxPersistenceSimulation? {
        get { simulatedDomain?.configuration.base as? DaxPersistenceSimulation }
        set { simulatedDomain = newValue.map(Self.request) }
    }

    /// Options with a simulated persistence domain (see `simulation`); the
    /// other parameters as in `init(requiredGranularity:readOnly:removalDeadline:)`.
    public init(requiredGranularity: StoreGranularity? = nil, readOnly: Bool = false,
                removalDeadline: Duration = .seconds(2), simulation: DaxPersistenceSimulation?) {
        self.init(requiredGranularity: requiredGranularity, readOnly: readOnly, removalDeadline: removalDeadline)
        self.simulation = simulation
    }

    private static func request(_ simulation: DaxPersistenceSimulation) -> SimulatedPersistenceRequest {
        SimulatedPersistenceRequest(configuration: simulation, granularity: simulation.granularity) { path, file, size throws(DaxError) in
            try DaxPersistenceSimulator.make(simulation, path: path, file: file, size: size)
        }
    }
}

extension DaxDevice {
    /// The simulated persistence domain, when opened with `DaxDevice/OpenOptions/simulation`.
    public var persistenceSimulator: DaxPersistenceSimulator? { simulatedDomain as? DaxPersistenceSimulator }
}
