import DaxMap
import DaxMapTesting
import DaxLogTesting
import Testing
@testable import DaxLog

/// DaxLog under simulated power failures: at every point of a short workload
/// in turn (the SQLite way), over many seeded runs, and with a writer broken
/// on purpose, which must be caught.
@Suite struct DaxLogPowerFailureTests {
    /// A short workload on a small device, so it wraps around and checkpoints.
    static func shortWorkload(eviction: Double) throws -> DaxLogCrashTest {
        try DaxLogCrashTest(.init(seed: 11, writers: 3, operations: 30, deviceSize: 16 << 10,
                                  evictionProbability: eviction))
    }

    @Test(arguments: [0.0, 0.5])
    func thePowerFailingAtEveryPointInTurnLosesNothingAcknowledged(eviction: Double) async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let test = try Self.shortWorkload(eviction: eviction)
        let full = try await test.runCycle(0, path: dir.file("dev"), powerFailure: .afterWorkload)
        #expect(full.passed, "\(full)")
        #expect(full.acknowledged > 30 && full.checkpoints > 0, "the workload appends batches and checkpoints: \(full)")
        #expect(full.recovered > 0 && full.powerFailure?.kind == .request)

        var kinds: Set<DaxPowerFailure.Point> = [], torn = 0, acknowledgedBefore: [Int] = []
        for point in 1...full.workloadPoints {
            let cycle = try await test.runCycle(0, path: dir.file("dev"), powerFailure: .at(point))
            #expect(cycle.passed, "\(cycle)")
            #expect(cycle.workloadPoints == point, "\(cycle)")
            if let kind = cycle.powerFailure?.kind { kinds.insert(kind) }
            torn += cycle.tornTail ? 1 : 0
            acknowledgedBefore.append(cycle.acknowledged)
        }
        #expect(kinds == [.store, .flush, .fence])
        // The later the power fails, the more was acknowledged: the cycles ran one workload.
        #expect(acknowledgedBefore == acknowledgedBefore.sorted() && acknowledgedBefore.last! <= full.acknowledged)
        if eviction > 0 { #expect(torn > 0, "eviction tore no record: the test would not see a torn tail") }
    }

    @Test(arguments: [StoreGranularity.cacheLine, .page])
    func manySeededRunsLoseNothingAcknowledged(granularity: StoreGranularity) async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let test = try DaxLogCrashTest(.init(cycles: granularity == .page ? 100 : 300, seed: 2026,
                                             granularity: granularity, evictionProbability: 0.25))
        let report = try await test.run(path: dir.file("dev"))
        #expect(report.passed, "\(report.failedCycles.prefix(3))")
        #expect(report.recordsLost == 0 && report.recordsCorrupt == 0 && report.checkpointsLost == 0)
        #expect(report.recordsAcknowledged > 1000, "\(report)")
        #expect(report.unitsEvicted > 0, "\(report)")
        // A record is torn when the power fails between its units, after some were evicted:
        // common with 64-byte lines, rare with pages (most records fit in one).
        if granularity == .cacheLine { #expect(report.tornTails > 0, "\(report)") }
        #expect(Set(report.powerFailures.keys).isSuperset(of: ["store", "flush", "fence"]))
    }

    @Test func aWriterThatSkipsPersistsIsCaught() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let test = try DaxLogCrashTest(.init(cycles: 100, seed: 7, skipPersistEvery: 2))
        let report = try await test.run(path: dir.file("dev"))
        #expect(report.persistsSkipped > 0)
        #expect(!report.passed && report.recordsLost + report.checkpointsLost > 0, "\(report)")
    }

    @Test func theSameSeedReplaysTheRun() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let configuration = DaxLogCrashTest.Configuration(cycles: 20, seed: 99, evictionProbability: 0.3, skipPersistEvery: 5)
        let a = try await DaxLogCrashTest(configuration).run(path: dir.file("dev"))
        let b = try await DaxLogCrashTest(configuration).run(path: dir.file("dev"))
        #expect(a == b)
        var other = configuration
        other.seed = 100
        let c = try await DaxLogCrashTest(other).run(path: dir.file("dev"))
        #expect(c.recordsAcknowledged != a.recordsAcknowledged || c.powerFailures != a.powerFailures)
    }

    @Test func settingsThatCannotWorkAreRefused() {
        for (configuration, why) in [
            (DaxLogCrashTest.Configuration(cycles: 0), "cycles"),
            (.init(writers: 0), "writers"), (.init(writers: 256), "writers"),
            (.init(operations: 0), "operations"), (.init(deviceSize: 4097), "device size"),
            (.init(evictionProbability: -0.1), "eviction probability"), (.init(skipPersistEvery: 0), "skip-persist-every"),
        ] {
            #expect { try DaxLogCrashTest(configuration) } throws: {
                ($0 as? DaxLogError)?.code == .invalidArgument && "\($0)".contains(why)
            }
        }
    }
}
