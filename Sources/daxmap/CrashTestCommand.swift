import ArgumentParser
import DaxLog
import DaxMap
import DaxMapTesting
import DaxLogTesting
import Glibc

/// Power failures, simulated, against DaxLog: what SIGKILL tests cannot catch.
struct CrashTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crash-test",
        abstract: "Fail the power under DaxLog writers on a simulated device, recover, and check nothing acknowledged was lost.",
        discussion: """
            Each cycle makes a fresh emulated device with a simulated persistence domain (only what is \
            persisted reaches the file), lets several writers append records, batches and checkpoints, fails \
            the power at a random store, flush or fence (a record may be half written), reopens the device, \
            recovers the log and checks that every acknowledged record is there and intact and that nothing \
            else is returned as good. Same seed, same run. \
            PATH: a directory (a scratch device in it, removed at the end), or a file that does not exist yet \
            (created and kept); an existing file is refused, never overwritten. The file is opened once, \
            when it is created, and used only through that descriptor: renaming PATH or putting a symbolic \
            link there during the run changes no other file. Default: a scratch device in \
            $TMPDIR or /tmp. \
            Exit status: 0 nothing lost, 2 records lost or corrupt (or a checkpoint undone), 1 an error, \
            64 bad arguments (--eviction-probability without --evict among them), 130/143 interrupted by SIGINT/SIGTERM (the scratch device removed).
            """)

    @Argument(help: "Where the scratch device goes (a directory, or a new file).")
    var path: String?

    @Option(help: "Power failures to simulate.")
    var cycles: Int = 200

    @Option(help: "The seed (default: a random one, printed).")
    var seed: UInt64?

    @Option(help: "Writers taking turns (1-255).")
    var writers: Int = 4

    @Option(help: "Appends and checkpoints per cycle, unless the power fails first.")
    var operations: Int = 40

    @Flag(help: "Let unpersisted cache lines reach the media at random, as a CPU cache evicts them (torn and reordered writes).")
    var evict = false

    @Option(help: "With --evict (refused without it): the chance, after each store, flush or fence, that one dirty unit is evicted (default 0.25).")
    var evictionProbability: Double?

    @Option(help: "The persistence unit of the simulated device: cacheline or page.")
    var granularity: String = "cacheline"

    @Option(parsing: .unconditional, help: "Bytes of the simulated device (a multiple of the page size; small ones wrap around often).")
    var size: String = "256K"

    @Option(help: "Break the writer on purpose: every Nth persist does nothing (the run must then report losses).")
    var skipPersistEvery: Int?

    @Flag(help: "Print one JSON object at the end.")
    var json = false

    func validate() throws {
        guard granularity == "cacheline" || granularity == "page" else {
            throw ValidationError("--granularity must be cacheline or page, not '\(granularity)'")
        }
        if evictionProbability != nil && !evict {
            throw ValidationError("--eviction-probability only goes with --evict (without it nothing is evicted)")
        }
        _ = try makeTest()
    }

    /// The test the options describe; every option it cannot take is a usage error naming it.
    private func makeTest() throws -> DaxLogCrashTest {
        let bytes: UInt64
        do { bytes = try parseBytes(size, option: "--size", operation: "crash-test", path: path ?? "crash-test") } catch {
            throw ValidationError(error.message)
        }
        do {
            return try DaxLogCrashTest(.init(
                cycles: cycles, seed: seed, writers: writers, operations: operations, deviceSize: bytes,
                granularity: granularity == "page" ? .page : .cacheLine,
                evictionProbability: evict ? evictionProbability ?? 0.25 : 0, skipPersistEvery: skipPersistEvery))
        } catch {
            throw ValidationError(error.message)
        }
    }

    func run() async throws {
        let test = try makeTest()
        let place: ScratchDevice
        do { place = try ScratchDevice(path) } catch { throw fail(error) }
        defer { place.finish() }
        // Interrupted: the scratch device goes too (a kept one stays, as it would at the end).
        let scratch = place
        SignalStop.install { sig in
            scratch.finish()
            printError("daxmap: crash-test: interrupted by signal \(sig)" + (scratch.kept ? "; the device is kept at \(scratch.path)" : "; scratch device removed"))
            return 128 + sig
        }
        if !json {
            printLine("crash-test: \(cycles) cycles on \(place.path) (\(granularity), \(writers) writers, eviction \(evict ? "\(evictionProbability ?? 0.25)" : "off")"
                + (skipPersistEvery.map { ", 1 persist in \($0) skipped on purpose" } ?? "") + "), seed \(test.seed)")
        }
        let report: DaxLogCrashTestReport
        do { report = try await test.run(descriptor: place.descriptor) } catch {
            printError("daxmap: \(error)")
            throw ExitCode(1)
        }
        if json {
            printLine(Self.json(report, test, place: place).rendered())
        } else {
            printLine("records acknowledged \(report.recordsAcknowledged), recovered \(report.recordsRecovered), lost \(report.recordsLost), corrupt \(report.recordsCorrupt); torn tails found \(report.tornTails); checkpoints undone \(report.checkpointsLost)")
            printLine("power failures: " + ["store", "flush", "fence", "request"].map { "\($0) \(report.powerFailures[$0] ?? 0)" }.joined(separator: ", ")
                + "; units evicted \(report.unitsEvicted); persists skipped \(report.persistsSkipped)")
            for cycle in report.failedCycles.prefix(10) { printLine("  FAILED \(cycle)") }
            if report.failedCycles.count > 10 { printLine("  ... \(report.failedCycles.count - 10) more failed cycles") }
            printLine(report.passed ? "PASS: nothing acknowledged was lost (seed \(report.seed))"
                                    : "FAIL: \(report.failedCycles.count) of \(report.cycles) cycles lost or corrupted what was acknowledged (replay with --seed \(report.seed))")
            if place.kept { printLine("the device of the last cycle is kept at \(place.path)") }
        }
        if !report.passed { throw ExitCode(2) }
    }

    static func json(_ r: DaxLogCrashTestReport, _ test: DaxLogCrashTest, place: ScratchDevice) -> JSON {
        let c = test.configuration
        return .object([
            ("cycles", .int(Int64(r.cycles))), ("seed", .uint(r.seed)), ("passed", .bool(r.passed)),
            ("recordsAcknowledged", .int(Int64(r.recordsAcknowledged))), ("recordsRecovered", .int(Int64(r.recordsRecovered))),
            ("recordsLost", .int(Int64(r.recordsLost))), ("recordsCorrupt", .int(Int64(r.recordsCorrupt))),
            ("tornTails", .int(Int64(r.tornTails))), ("checkpointsLost", .int(Int64(r.checkpointsLost))),
            ("unitsEvicted", .int(Int64(r.unitsEvicted))), ("persistsSkipped", .int(Int64(r.persistsSkipped))),
            ("powerFailures", .object(["store", "flush", "fence", "request"].map { ($0, .int(Int64(r.powerFailures[$0] ?? 0))) })),
            ("granularity", .string(c.granularity.description)), ("writers", .int(Int64(c.writers))),
            ("evictionProbability", .double(c.evictionProbability)),
            ("skipPersistEvery", c.skipPersistEvery.map { .int(Int64($0)) } ?? .null),
            ("device", .string(place.path)), ("deviceKept", .bool(place.kept)),
            ("failedCycles", .array(r.failedCycles.map { f in
                .object([("index", .int(Int64(f.index))), ("seed", .uint(f.seed)),
                         ("point", f.powerFailure.map { .int(Int64($0.point)) } ?? .null),
                         ("kind", f.powerFailure.map { .string($0.kind.rawValue) } ?? .null),
                         ("acknowledged", .int(Int64(f.acknowledged))), ("lost", .int(Int64(f.lost))),
                         ("corrupt", .int(Int64(f.corrupt))), ("checkpointLost", .bool(f.checkpointLost)),
                         ("error", f.error.map { .string($0) } ?? .null)])
            })),
        ])
    }
}
