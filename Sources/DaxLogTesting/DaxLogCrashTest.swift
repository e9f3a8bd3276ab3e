import DaxLog
import DaxMap
import DaxMapTesting
import Glibc

/// Power-failure testing of `DaxLog` on a simulated persistence domain
/// (`DaxPersistenceSimulation`): what `daxmap crash-test` runs.
///
/// Each cycle makes a fresh emulated device, opens a log on it, lets several
/// writers append (single records and batches, with checkpoints that make the
/// log wrap around), fails the power at a random point (a store, a flush, a
/// fence, in the middle of a record), reopens the device, recovers the log and
/// checks it: every acknowledged record is there and intact, nothing else is
/// returned as good, no acknowledged checkpoint is undone. The writers take
/// turns on one thread, chosen by the seed, so a seed replays its run exactly.
///
/// ```swift
/// let test = try DaxLogCrashTest(.init(cycles: 50, seed: 1, evictionProbability: 0.25))
/// let report = try await test.run(path: "/tmp/crash.img")
/// assert(report.recordsLost == 0)
/// ```
public struct DaxLogCrashTest: Sendable {
    public struct Configuration: Sendable, Hashable {
        public var cycles: Int
        /// Nil picks one (see ``DaxLogCrashTest/seed``).
        public var seed: UInt64?
        /// Writers taking turns (1 to 255).
        public var writers: Int
        /// Appends and checkpoints each cycle's workload has, unless the power fails first.
        public var operations: Int
        /// Bytes of the device (a small one wraps around often).
        public var deviceSize: UInt64
        public var granularity: StoreGranularity
        /// See `DaxPersistenceSimulation.evictionProbability`.
        public var evictionProbability: Double
        /// Breaks the log's persistence on purpose (see
        /// `DaxPersistenceSimulation.skipPersistEvery`): the run must then report losses.
        public var skipPersistEvery: Int?
        /// Each cycle goes on with the log the previous power failure left (its
        /// recovery then runs under the simulation, and the power may fail in it
        /// too), and checks everything acknowledged since the last fresh device;
        /// after a failed cycle the next starts fresh. False: a fresh device every cycle.
        public var continuing: Bool

        public init(cycles: Int = 200, seed: UInt64? = nil, writers: Int = 4, operations: Int = 40,
                    deviceSize: UInt64 = 256 << 10, granularity: StoreGranularity = .cacheLine,
                    evictionProbability: Double = 0, skipPersistEvery: Int? = nil, continuing: Bool = true) {
            self.cycles = cycles
            self.seed = seed
            self.writers = writers
            self.operations = operations
            self.deviceSize = deviceSize
            self.granularity = granularity
            self.evictionProbability = evictionProbability
            self.skipPersistEvery = skipPersistEvery
            self.continuing = continuing
        }
    }

    /// Where a cycle's power fails.
    public enum PowerFailurePoint: Sendable, Hashable {
        /// At a point drawn from the cycle's seed (possibly after the whole workload).
        case random
        /// At the workload's `n`-th point (1 is its first store).
        case at(Int)
        /// After the whole workload.
        case afterWorkload
    }

    public let configuration: Configuration
    /// The run's seed.
    public let seed: UInt64

    /// - Throws: `.invalidArgument` naming the setting that cannot work.
    public init(_ configuration: Configuration) throws(DaxLogError) {
        func refuse(_ message: String) -> DaxLogError {
            DaxLogError(.invalidArgument, operation: "crash-test", message: message)
        }
        guard configuration.cycles >= 1 else { throw refuse("cycles must be 1 or more, not \(configuration.cycles)") }
        guard (1...255).contains(configuration.writers) else {
            throw refuse("writers must be between 1 and 255, not \(configuration.writers)")
        }
        // Bounded: the random power-failure point is drawn from operations × 16 points.
        guard (1...1_000_000).contains(configuration.operations) else {
            throw refuse("operations must be between 1 and 1000000, not \(configuration.operations)")
        }
        guard configuration.evictionProbability.isFinite, (0...1).contains(configuration.evictionProbability) else {
            throw refuse("the eviction probability must be between 0 and 1, not \(configuration.evictionProbability)")
        }
        if let n = configuration.skipPersistEvery, n < 1 { throw refuse("skip-persist-every must be 1 or more, not \(n)") }
        let page = UInt64(Syscalls.pageSize)
        guard configuration.deviceSize >= 4 * page, configuration.deviceSize % page == 0,
              configuration.deviceSize <= 1 << 30 else {
            throw refuse("the device size must be a multiple of \(page) bytes from \(4 * page) to 1 GiB, not \(configuration.deviceSize)")
        }
        self.configuration = configuration
        if let seed = configuration.seed { self.seed = seed } else {
            var system = SystemRandomNumberGenerator()
            self.seed = system.next()
        }
    }

    /// Runs every cycle on the file at `path`, which each cycle creates or
    /// **overwrites** (give it a path of its own). `each` sees every cycle as it ends.
    /// - Throws: `.device` when the device file cannot be made or opened.
    public func run(path: String, each: ((DaxLogCrashTestCycle) -> Void)? = nil) async throws(DaxLogError) -> DaxLogCrashTestReport {
        var report = DaxLogCrashTestReport(seed: seed, cycles: 0, recordsAcknowledged: 0, recordsRecovered: 0, recordsLost: 0,
                                           recordsCorrupt: 0, tornTails: 0, checkpointsLost: 0, unitsEvicted: 0,
                                           persistsSkipped: 0, powerFailures: [:], failedCycles: [])
        var carried: CrashLedger?
        for index in 0..<configuration.cycles {
            let (cycle, ledger) = try await runCycle(index, path: path, powerFailure: .random, continuing: carried)
            // The next cycle goes on with this log, unless this one failed: then a fresh device.
            carried = configuration.continuing && cycle.passed ? ledger : nil
            report.cycles += 1
            report.recordsAcknowledged += cycle.acknowledged
            report.recordsRecovered += cycle.recovered
            report.recordsLost += cycle.lost
            report.recordsCorrupt += cycle.corrupt
            report.tornTails += cycle.tornTail ? 1 : 0
            report.checkpointsLost += cycle.checkpointLost ? 1 : 0
            report.unitsEvicted += cycle.powerFailure?.unitsEvicted ?? 0
            report.persistsSkipped += cycle.powerFailure?.persistsSkipped ?? 0
            if let kind = cycle.powerFailure?.kind { report.powerFailures[kind.rawValue, default: 0] += 1 }
            if !cycle.passed { report.failedCycles.append(cycle) }
            each?(cycle)
        }
        return report
    }

    /// Runs every cycle on the regular file open read-write at `descriptor`,
    /// reached through `/proc/self/fd`: never by a name that someone could
    /// replace with a symbolic link to another file while the test runs.
    public func run(descriptor: Int32, each: ((DaxLogCrashTestCycle) -> Void)? = nil) async throws(DaxLogError) -> DaxLogCrashTestReport {
        try await run(path: "/proc/self/fd/\(descriptor)", each: each)
    }

    /// Runs cycle `index` (its seed derives from the run's) on a fresh device,
    /// with the power failing at `point` of its workload.
    public func runCycle(_ index: Int, path: String, powerFailure point: PowerFailurePoint = .random)
        async throws(DaxLogError) -> DaxLogCrashTestCycle {
        try await runCycle(index, path: path, powerFailure: point, continuing: nil).cycle
    }

    /// One cycle: on a fresh device, or (`continuing`, what the previous cycles
    /// acknowledged) on the log the previous power failure left, whose
    /// recovery — erasing a torn append, writing a gap — the power may cut too.
    private func runCycle(_ index: Int, path: String, powerFailure point: PowerFailurePoint,
                          continuing: CrashLedger?) async throws(DaxLogError) -> (cycle: DaxLogCrashTestCycle, ledger: CrashLedger) {
        let cycleSeed = CrashPayload.mix(seed &+ UInt64(index))
        var cycle = DaxLogCrashTestCycle(index: index, seed: cycleSeed, powerFailure: nil, workloadPoints: 0, appendsBegun: 0,
                                         acknowledged: 0, checkpoints: 0, recovered: 0, lost: 0, corrupt: 0, tornTail: false,
                                         checkpointLost: false, recoveryStop: "", error: nil)
        if continuing == nil { try freshDevice(path) }
        var ledger = continuing ?? CrashLedger(writers: configuration.writers)
        let acknowledgedBefore = ledger.acknowledged.count, checkpointsBefore = ledger.checkpoints
        let simulation = DaxPersistenceSimulation(granularity: configuration.granularity, seed: cycleSeed,
                                                  evictionProbability: configuration.evictionProbability,
                                                  skipPersistEvery: configuration.skipPersistEvery)
        let device = try device(path, DaxDevice.OpenOptions(removalDeadline: .seconds(1), simulation: simulation))
        guard let simulator = device.persistenceSimulator else { preconditionFailure("opened without its simulation") }
        // A fresh log is made with the power on; a continued one is recovered under the simulation.
        var log: DaxLog?
        if continuing == nil { log = try DaxLog.open(device: device, options: .init(creation: .ifBlank)) }
        let start = simulator.points
        switch point {
        case .random:
            // Its own stream, so the workload is the same whatever point is drawn.
            let n = 1 + Int(CrashPayload.mix(cycleSeed ^ 0x5EED) % UInt64(configuration.operations * 16))
            try? simulator.schedulePowerFailure(atPoint: start + n)
        case .at(let n):
            try? simulator.schedulePowerFailure(atPoint: start + max(n, 1))
        case .afterWorkload:
            break
        }
        if log == nil {
            do throws(DaxLogError) { log = try DaxLog.open(device: device, options: .init(creation: .never)) } catch {
                if simulator.isPowered { cycle.error = "the log did not open again with the power on: \(error)" }
            }
        }
        if let log { cycle.error = workload(log, simulator, seed: seed, ledger: &ledger, begun: &cycle.appendsBegun) }
        cycle.acknowledged = ledger.acknowledged.count - acknowledgedBefore
        cycle.checkpoints = ledger.checkpoints - checkpointsBefore
        cycle.workloadPoints = simulator.points - start
        cycle.powerFailure = await simulator.failPower() // returns the scheduled one if it came
        log?.close()
        device.close()

        // Recovery: the device as the next boot finds it, read-only (the next cycle's open does the writing).
        do throws(DaxLogError) {
            let again = try self.device(path, DaxDevice.OpenOptions(readOnly: true))
            defer { again.close() }
            let recovered = try DaxLog.open(device: again, options: .init(creation: .never, readOnly: true))
            defer { recovered.close() }
            let verdict = ledger.check(first: recovered.recovery.firstSequence, records: try recovered.records(), seed: seed)
            cycle.recovered = verdict.recovered
            cycle.lost = verdict.lost
            cycle.corrupt = verdict.corrupt
            cycle.checkpointLost = verdict.checkpointLost
            cycle.recoveryStop = recovered.recovery.stop.description
            if case .tornTail = recovered.recovery.stop { cycle.tornTail = true }
            if !recovered.recovery.lost.isEmpty, cycle.error == nil {
                cycle.error = "recovery reports sequence numbers lost: \(recovered.recovery)"
            }
            if cycle.passed { ledger.settle(first: recovered.recovery.firstSequence) }
        } catch {
            cycle.lost = ledger.acknowledged.count
            cycle.error = "the log could not be recovered: \(error)"
        }
        return (cycle, ledger)
    }

    /// The writers' turns until the power fails; returns what went wrong otherwise.
    private func workload(_ log: DaxLog, _ simulator: DaxPersistenceSimulator, seed: UInt64,
                          ledger: inout CrashLedger, begun: inout Int) -> String? {
        var state = CrashPayload.mix(seed ^ UInt64(ledger.acknowledged.count) ^ UInt64(log.nextSequence) << 32)
        func draw() -> UInt64 {
            state = CrashPayload.mix(state)
            return state
        }
        func next(_ writer: Int) -> [UInt8] {
            CrashPayload.make(seed: seed, writer: writer, counter: ledger.nextCounter(writer))
        }
        for _ in 0..<configuration.operations {
            let writer = Int(draw() % UInt64(configuration.writers)), choice = draw() % 100
            do throws(DaxLogError) {
                // A checkpoint when the log is half full (or as a writer's turn), so it wraps around.
                let live = log.nextSequence - log.firstSequence
                if live > 1 && (log.usedBytes > log.capacity / 2 || choice < 5) {
                    let upTo = log.firstSequence + 1 + draw() % live
                    ledger.discardStarted(upTo: upTo)
                    try log.discard(upTo: upTo)
                    ledger.discardAcknowledged(upTo: upTo)
                } else if choice < 20 {
                    let records = (0..<(2 + Int(draw() % 3))).map { _ in next(writer) }
                    begun += 1
                    let sequences = try log.append(contentsOf: records)
                    for (s, r) in zip(sequences, records) {
                        let claim = CrashPayload.claim(r)!
                        ledger.acknowledge(s, writer: claim.writer, counter: claim.counter)
                    }
                } else {
                    let record = next(writer)
                    begun += 1
                    let s = try log.append(record)
                    let claim = CrashPayload.claim(record)!
                    ledger.acknowledge(s, writer: claim.writer, counter: claim.counter)
                }
            } catch {
                return simulator.isPowered ? "the workload failed with the power on: \(error)" : nil
            }
        }
        return nil
    }

    /// A device file of the configured size, all zeros: created, or emptied and regrown.
    private func freshDevice(_ path: String) throws(DaxLogError) {
        let fd: CInt
        switch Syscalls.open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644) {
        case .success(let f): fd = f
        case .failure(let errno):
            throw DaxLogError(.device, operation: "crash-test", path: path,
                              message: "cannot create the device file: \(Syscalls.describe(errno))")
        }
        defer { Syscalls.close(fd) }
        if case .failure(let errno) = Syscalls.ftruncate(fd, Int(configuration.deviceSize)) {
            throw DaxLogError(.device, operation: "crash-test", path: path,
                              message: "cannot size the device file to \(configuration.deviceSize) bytes: \(Syscalls.describe(errno))")
        }
    }

    private func device(_ path: String, _ options: DaxDevice.OpenOptions) throws(DaxLogError) -> DaxDevice {
        do throws(DaxError) { return try DaxDevice.open(path, options: options) } catch {
            throw DaxLogError(.device, operation: "crash-test", path: path, underlying: error, message: "cannot open the device")
        }
    }
}
