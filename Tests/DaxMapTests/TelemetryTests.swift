import Glibc
import DaxMapSync
import Logging
import CoreMetrics
import Testing
@testable import DaxMap
import DaxLog

// MARK: - An in-memory swift-log and swift-metrics backend

/// Every log entry and metric of the process, kept in memory.
final class MemoryTelemetry: Sendable {
    struct Entry: Sendable {
        var label: String
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    let entries = Locked<[Entry]>([])
    let counters = Locked<[String: Int64]>([:])
    let timers = Locked<[String: [Int64]]>([:])

    /// swift-log and swift-metrics may each be bootstrapped once per process:
    /// every test that needs the backend goes through here.
    static let shared: MemoryTelemetry = {
        let t = MemoryTelemetry()
        LoggingSystem.bootstrap { label in MemoryLogHandler(label: label, sink: t) }
        MetricsSystem.bootstrap(MemoryMetrics(sink: t))
        return t
    }()

    static func key(_ label: String, _ dimensions: [(String, String)]) -> String {
        ([label] + dimensions.map { "\($0.0)=\($0.1)" }).joined(separator: ",")
    }

    func counter(_ label: String, _ dimensions: [(String, String)] = []) -> Int64 {
        counters.withLock { $0[Self.key(label, dimensions)] ?? 0 }
    }
    func timings(_ label: String, _ dimensions: [(String, String)] = []) -> [Int64] {
        timers.withLock { $0[Self.key(label, dimensions)] ?? [] }
    }
    func entries(where match: (Entry) -> Bool) -> [Entry] { entries.withLock { $0.filter(match) } }
}

struct MemoryLogHandler: LogHandler {
    let label: String
    let sink: MemoryTelemetry
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?,
             source: String, file: String, function: String, line: UInt) {
        let all = self.metadata.merging(metadata ?? [:]) { $1 }
        let entry = MemoryTelemetry.Entry(label: label, level: level, message: message.description,
                                          metadata: all.mapValues { $0.description })
        sink.entries.withLock { $0.append(entry) }
    }
}

final class MemoryCounter: CounterHandler, TimerHandler, RecorderHandler, Sendable {
    let key: String
    let sink: MemoryTelemetry
    init(_ key: String, _ sink: MemoryTelemetry) { self.key = key; self.sink = sink }
    func increment(by amount: Int64) { sink.counters.withLock { $0[key, default: 0] += amount } }
    func reset() { sink.counters.withLock { $0[key] = 0 } }
    func recordNanoseconds(_ duration: Int64) { sink.timers.withLock { $0[key, default: []].append(duration) } }
    func record(_ value: Int64) { recordNanoseconds(value) }
    func record(_ value: Double) { recordNanoseconds(Int64(value)) }
}

struct MemoryMetrics: MetricsFactory {
    let sink: MemoryTelemetry
    func makeCounter(label: String, dimensions: [(String, String)]) -> CounterHandler {
        MemoryCounter(MemoryTelemetry.key(label, dimensions), sink)
    }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> RecorderHandler {
        MemoryCounter(MemoryTelemetry.key(label, dimensions), sink)
    }
    func makeTimer(label: String, dimensions: [(String, String)]) -> TimerHandler {
        MemoryCounter(MemoryTelemetry.key(label, dimensions), sink)
    }
    func destroyCounter(_ handler: CounterHandler) {}
    func destroyRecorder(_ handler: RecorderHandler) {}
    func destroyTimer(_ handler: TimerHandler) {}
}

// MARK: - Tests

/// Serialized: they share the process's one backend (the bootstrap above).
@Suite(.serialized) struct TelemetryTests {
    @Test func withoutABackendDaxmapsLoggerIsSilent() {
        // swift-log's default handler is a StreamLogHandler printing to stderr:
        // daxmap treats it as "no backend". Checked on a logger made like
        // swift-log's default, without touching the process's bootstrap.
        let defaultLike = Logger(label: "daxmap", factory: { StreamLogHandler.standardError(label: $0) })
        #expect(DaxLogging.enabled(defaultLike) == nil)
        #expect(DaxLogging.enabled(Logger(label: "daxmap", factory: { _ in SwiftLogNoOpLogHandler() })) != nil)
        _ = MemoryTelemetry.shared
        #expect(Telemetry.logger != nil) // bootstrapped: daxmap logs
    }

    /// A real process that never bootstraps: daxmap-example runs a removal
    /// (which logs two notices with a backend) and prints none of them; and the
    /// library with swift-log and CoreMetrics links no Foundation (libFoundation's
    /// uuid_* would shadow libdaxctl's libuuid).
    @Test func aProgramWithoutABackendPrintsNoLogsAndLinksNoFoundation() {
        let run = runProgram([buildDirectory + "/daxmap-example"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("removal completed"))
        #expect(!run.stderr.contains("removal started") && !run.stderr.contains("daxmap"), "\(run.stderr)")
        let ldd = runProgram(["/bin/sh", "-c", "ldd '\(buildDirectory)/daxmap-example'"])
        #expect(ldd.status == 0)
        #expect(ldd.stdout.contains("libdaxctl"), "\(ldd.stdout)")
        #expect(!ldd.stdout.contains("libFoundation"), "\(ldd.stdout)")
    }

    @Test func aTruncationFaultLogsAWarningWithTheDeviceAndCountsTheFault() async throws {
        let telemetry = MemoryTelemetry.shared
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let faults = [("cause", "addressError")]
        let before = telemetry.counter("daxmap_faults_total", faults)
        _ = try DaxDevice.createEmulated(at: path, size: UInt64(16 * pageSize))
        let device = try DaxDevice.open(path)
        let holder = RecordingHolder("h")
        let mapping = try device.map(holder: holder)
        holder.adopt(mapping)
        truncateFile(path, to: 8 * pageSize)
        var b = [UInt8](repeating: 0, count: 8)
        #expect(throws: DaxError.self) { try b.withUnsafeMutableBytes { try mapping.read(at: 12 * pageSize, into: $0) } }
        _ = await holder.waitFor(.removed)

        let warnings = telemetry.entries { $0.label == "daxmap" && $0.level == .warning && $0.metadata["device"] == path }
        #expect(warnings.count >= 1)
        #expect(warnings.first?.message == "fault")
        #expect(warnings.first?.metadata["kind"] == "addressError")
        #expect(warnings.first?.metadata["source"] == "signal")
        #expect(warnings.first?.metadata["range"] == "[\(12 * pageSize), \(13 * pageSize))")
        #expect(telemetry.counter("daxmap_faults_total", faults) > before)
        // The holders were told: an info entry and the notification counter.
        let isTold: (MemoryTelemetry.Entry) -> Bool = { $0.level == .info && $0.metadata["device"] == path && $0.metadata["kind"] == "removed" }
        // Logged after the holder calls were started: wait for it.
        #expect(await waitUntil(seconds: 10) { !telemetry.entries(where: isTold).isEmpty })
        let told = telemetry.entries(where: isTold)
        #expect(told.first?.metadata["range"] == "[\(8 * pageSize), \(16 * pageSize))")
        #expect(telemetry.counter("daxmap_notifications_total", [("kind", "removed")]) >= 1)
        mapping.close()
    }

    @Test func aRemovalLogsNoticesAndRecordsItsDuration() async throws {
        let telemetry = MemoryTelemetry.shared
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let source = [("source", "request")]
        let timed = telemetry.timings("daxmap_removal_duration", source).count
        let removals = telemetry.counter("daxmap_removals_total", source)
        _ = try DaxDevice.createEmulated(at: path, size: UInt64(16 * pageSize))
        let device = try DaxDevice.open(path)
        let holder = RecordingHolder("h")
        holder.adopt(try device.map(holder: holder))
        let report = await device.beginRemoval(deadline: .seconds(5))

        let notices = telemetry.entries { $0.level == .notice && $0.metadata["device"] == path }
        #expect(notices.map(\.message) == ["removal started", "removal completed"])
        #expect(notices.last?.metadata["source"] == "request")
        #expect(notices.last?.metadata["kind"] == "removal")
        // Other suites remove devices in this process at the same time: at least
        // this removal is counted, and its own duration is among those recorded.
        #expect(telemetry.counter("daxmap_removals_total", source) >= removals + 1)
        let durations = telemetry.timings("daxmap_removal_duration", source)
        #expect(durations.count >= timed + 1)
        #expect(durations.dropFirst(timed).contains(Telemetry.nanoseconds(report.duration)))
    }

    @Test func daxLogAppendsCountRecordsAndTimeThePersist() throws {
        let telemetry = MemoryTelemetry.shared
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("log")
        _ = try DaxDevice.createEmulated(at: path, size: 1 << 20)
        let device = try DaxDevice.open(path)
        let appends = telemetry.counter("daxlog_appends_total")
        let persists = telemetry.timings("daxlog_persist_duration").count
        let log = try DaxLog.open(device: device)
        defer { log.close() }
        try log.append([1, 2, 3])
        try log.append(contentsOf: [[4], [5], [6]])
        #expect(telemetry.counter("daxlog_appends_total") - appends >= 4)
        #expect(telemetry.timings("daxlog_persist_duration").count - persists >= 2)
    }

    /// An application that bootstraps a StreamLogHandler itself gets daxmap's
    /// entries on it (before, any StreamLogHandler was taken for swift-log's
    /// implicit default and ignored). A child process: this one is bootstrapped.
    @Test(arguments: ["stream-log-notice", "stream-log-daxlogging"])
    func anExplicitlyBootstrappedStreamLogHandlerGetsDaxmapsEntries(mode: String) {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let run = runProgram([buildDirectory + "/daxmap-probe", mode, dir.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("removed 1"), "\(run.stdout)")
        #expect(run.stderr.contains("notice daxmap:") && run.stderr.contains("removal started")
                && run.stderr.contains("removal completed"), "\(run.stderr)")
    }

    /// A planned removal tells each holder `preRemove`: counted and logged like every other notice.
    @Test func preRemoveNoticesAreCountedAndLoggedAsHoldersNotified() async throws {
        let telemetry = MemoryTelemetry.shared
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let kind = [("kind", "preRemove")]
        let before = telemetry.counter("daxmap_notifications_total", kind)
        _ = try DaxDevice.createEmulated(at: path, size: UInt64(16 * pageSize))
        let device = try DaxDevice.open(path)
        let first = RecordingHolder("first"), second = RecordingHolder("second")
        first.adopt(try device.map(holder: first))
        second.adopt(try device.map(holder: second))
        let report = await device.beginRemoval(deadline: .seconds(30))
        #expect(report.holdersNotified == 2)

        let told = telemetry.entries { $0.message == "holders notified" && $0.metadata["device"] == path }
        #expect(told.count == 1, "\(told)")
        #expect(told.first?.level == .info)
        #expect(told.first?.metadata["kind"] == "preRemove")
        #expect(told.first?.metadata["holders"] == "2")
        #expect(told.first?.metadata["range"] == "[0, \(16 * pageSize))")
        // Other suites remove devices in this process too: at least these two.
        #expect(telemetry.counter("daxmap_notifications_total", kind) >= before + 2)
    }

    /// A log on a file truncated under it: the next append's store faults
    /// (a real BUS_ADRERR), and the records past the cut were acknowledged.
    private func truncatedLog(_ path: String) async throws -> DaxLog {
        _ = try DaxDevice.createEmulated(at: path, size: 1 << 20)
        let log = try DaxLog.open(device: try DaxDevice.open(path))
        for i in 0..<100 { try log.append([UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 200)) }
        truncateFile(path, to: 3 * 4096)
        #expect(throws: DaxLogError.self) { try log.append([1, 2, 3]) }
        return log
    }

    @Test func aFailedStoreInDaxLogIsCountedAsAnAppendFailure() async throws {
        let telemetry = MemoryTelemetry.shared
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("log")
        let before = telemetry.counter("daxlog_append_failures_total")
        let failedStores = telemetry.entries { $0.label == "daxlog" && $0.metadata["device"] == path && $0.message.hasPrefix("append failed") }
        #expect(failedStores.isEmpty)
        let log = try await truncatedLog(path)
        defer { log.close() }
        #expect(log.state == .failed)
        // Other suites' logs fail in this process too: at least this one.
        #expect(telemetry.counter("daxlog_append_failures_total") >= before + 1)
        let logged = telemetry.entries { $0.label == "daxlog" && $0.metadata["device"] == path && $0.message.hasPrefix("append failed") }
        #expect(logged.count == 1 && logged.first?.level == .warning, "\(logged)")
        #expect(logged.first?.metadata["kind"] == "deviceRemoved", "\(logged)")
    }

    @Test func daxLogWarnsWithTheRangesWhenItLearnsRecordsAreLost() async throws {
        let telemetry = MemoryTelemetry.shared
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("log")
        let log = try await truncatedLog(path)
        defer { log.close() }
        let isLost: (MemoryTelemetry.Entry) -> Bool = { $0.label == "daxlog" && $0.message == "records lost" && $0.metadata["device"] == path }
        // The holder notice comes from the fault monitor's thread: wait for it.
        #expect(await waitUntil(seconds: 20) { !telemetry.entries(where: isLost).isEmpty })
        let lost = log.lostSequences
        #expect(lost.count == 1 && lost[0].upperBound == 100, "\(lost)")
        let warning = telemetry.entries(where: isLost).first
        #expect(warning?.level == .warning)
        #expect(warning?.metadata["kind"] == "removed")
        #expect(warning?.metadata["sequences"] == "[\(lost[0].lowerBound), 100)", "\(String(describing: warning))")
        #expect(warning?.metadata["count"] == "\(lost[0].count)")
        #expect(warning?.metadata["range"] == "[\(3 * 4096), \(1 << 20))", "\(String(describing: warning))")
    }
}
