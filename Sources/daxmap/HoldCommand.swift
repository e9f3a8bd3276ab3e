import ArgumentParser
import DaxMap
import Glibc

/// Holds devices with writers until they are removed: the harness's workload.
struct HoldCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold",
        abstract: "Map devices with writer holders until they are removed; report how the removal went.",
        discussion: """
            Each PATH (a /dev/daxX.Y, or a file on a DAX mount, created at --file-size when missing) is \
            split among --holders holders whose writers append checksummed records and persist them. \
            Acknowledged records are logged to --acked (rewritten atomically as they grow). 'READY' is \
            printed on stderr once every writer has acknowledged a record. When the device goes (a \
            uevent, or SIGBUS), holders are notified, release their mappings, what is left is revoked, \
            and one JSON object is printed. Exit 0 after a removal, 3 on timeout.
            """)

    @Argument(help: "Devices or files to hold.")
    var paths: [String]

    @Option(help: "Holders (and writers) per path.")
    var holders = 4

    @Option(help: "Where to log acknowledged records, for 'daxmap verify'.")
    var acked: String

    @Option(help: "Seconds to wait for a removal.")
    var timeout = 120

    @Option(help: "Size of files created when missing.")
    var fileSize: UInt64 = 64 << 20

    @Option(help: "Removal deadline in milliseconds.")
    var deadline = 2000

    @Option(help: "After the removal, print 'REMOVED' on stderr and wait up to this many seconds for the device to come back; then check that the old mappings stayed dead and that a reopen reads the records.")
    var awaitReturn: Int?

    @Flag(help: "Print JSON (the default output is the same object).")
    var json = false

    func validate() throws {
        guard !paths.isEmpty else { throw ValidationError("give at least one PATH") }
        guard holders >= 1 && holders <= 256 else { throw ValidationError("--holders must be between 1 and 256") }
    }

    func run() async throws {
        var devices: [(DaxDevice, [WriterHolder], UInt64)] = []
        var streams: [AsyncStream<DaxDeviceEvent>] = []
        do {
            for path in paths {
                if access(path, F_OK) != 0 {
                    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
                    guard fd >= 0, ftruncate(fd, off_t(fileSize)) == 0 else {
                        throw DaxError(.system, operation: "create", path: path, length: fileSize, message: "cannot create the file")
                    }
                    close(fd)
                }
                let device = try DaxDevice.open(path, options: .init(removalDeadline: .milliseconds(deadline)))
                try DaxMonitor.watch(device)
                streams.append(device.events())
                let slice = device.size / UInt64(holders) / device.alignment * device.alignment
                guard slice > 0 else {
                    throw DaxError(.outOfRange, operation: "hold", path: path, length: device.size,
                                   message: "too small for \(holders) holders at alignment \(device.alignment)")
                }
                let writers = (0..<holders).map { WriterHolder(index: $0) }
                for w in writers {
                    w.adopt(try device.map(offset: UInt64(w.index) * slice, length: slice, holder: w))
                }
                devices.append((device, writers, slice))
            }
        } catch { throw fail(asDaxError(error)) }

        for (_, writers, _) in devices { for w in writers { w.startWriting(pace: .microseconds(200)) } }
        let log = AckLog(path: acked)
        let clock = ContinuousClock()
        let limit = clock.now + .seconds(timeout)
        var ready = false
        // Wait for every device's removal, logging acknowledgements as they grow.
        let removals = Task {
            await withTaskGroup(of: DaxRemovalReport?.self) { group in
                for stream in streams {
                    group.addTask {
                        for await event in stream { if case .removalCompleted(let r) = event { return r } }
                        return nil
                    }
                }
                var reports: [DaxRemovalReport] = []
                for await r in group { if let r { reports.append(r) } }
                return reports
            }
        }
        while clock.now < limit && devices.contains(where: { $0.0.lifecycle == .alive || $0.0.lifecycle == .going }) {
            log.write(devices.map { ($0.0.path, $0.2, $0.1.map { $0.acknowledged.load(ordering: .acquiring) }) })
            if !ready && devices.allSatisfy({ $0.1.allSatisfy { $0.acknowledged.load(ordering: .relaxed) > 0 } }) {
                ready = true
                printError("READY")
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        let timedOut = devices.contains { $0.0.lifecycle == .alive }
        for (_, writers, _) in devices { for w in writers { await w.stop() } }
        log.write(devices.map { ($0.0.path, $0.2, $0.1.map { $0.acknowledged.load(ordering: .acquiring) }) })
        if timedOut {
            for (device, _, _) in devices { device.close() }
        }
        let reports = await removals.value
        // A writer that touched the mapping right after an unbind faults before the
        // kernel's uevent is read; wait a moment for the uevent too, to report it.
        if !timedOut && DaxMonitor.statistics.ueventsAvailable {
            let grace = clock.now + .seconds(3)
            while clock.now < grace && devices.contains(where: { $0.0.kind != .emulated && $0.0.removalUEventsSeen == 0 }) {
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        var afterReturn: [(String, JSON)] = []
        if let awaitReturn, !timedOut {
            printError("REMOVED")
            afterReturn = await checkAfterReturn(devices, seconds: awaitReturn)
        }
        let all = devices.flatMap { $0.1 }
        let notified = all.filter { !$0.notifications.isEmpty }.count
        let preRemoved = all.filter { $0.notifications.contains { $0.kind == .preRemove } }.count
        let openFDs = descriptorsOpen(on: paths)
        let object = JSON.object([
            ("holders", .int(Int64(all.count))),
            ("holdersNotified", .int(Int64(notified))),
            ("holdersPreRemoved", .int(Int64(preRemoved))),
            ("preRemoveNotifications", .int(Int64(all.reduce(0) { $0 + $1.notifications.filter { $0.kind == .preRemove }.count }))),
            ("faultsCaught", .int(Int64(all.reduce(0) { $0 + $1.faultsCaught.load(ordering: .relaxed) }))),
            ("faultSignals", .uint(DaxMonitor.statistics.faultsRecorded)),
            ("recordsAcknowledged", .int(Int64(all.reduce(0) { $0 + $1.acknowledged.load(ordering: .relaxed) }))),
            ("mappingsReleased", .int(Int64(reports.reduce(0) { $0 + $1.mappingsReleased }))),
            ("mappingsRevoked", .int(Int64(reports.reduce(0) { $0 + $1.mappingsRevoked }))),
            ("removalSource", reports.first.map { .string($0.source.rawValue) } ?? .null),
            ("removalMilliseconds", reports.first.map { .double(milliseconds($0.duration)) } ?? .null),
            ("removalUEvents", .int(Int64(devices.reduce(0) { $0 + $1.0.removalUEventsSeen }))),
            ("lateNotices", .uint(DaxMonitor.statistics.lateNotices)),
            ("faultsDropped", .uint(DaxMonitor.statistics.faultsDropped)),
            ("ueventsRejected", .uint(DaxMonitor.statistics.ueventsRejected)),
            ("descriptorsOpen", .int(Int64(openFDs))),
            ("timedOut", .bool(timedOut)),
        ] + afterReturn + [
            ("exitedGracefully", .bool(!timedOut && openFDs == 0 && reports.count == devices.count)),
        ])
        printLine(object.rendered(pretty: false))
        if timedOut { throw ExitCode(3) }
    }
}

extension HoldCommand {
    /// Once the device is back (re-bound while this process lives, its descriptors closed):
    /// the revoked or released mappings must stay dead — a device-dax mapping left alone
    /// would silently come back to life — and a fresh open must read the records.
    func checkAfterReturn(_ devices: [(DaxDevice, [WriterHolder], UInt64)], seconds: Int) async -> [(String, JSON)] {
        let clock = ContinuousClock()
        let limit = clock.now + .seconds(seconds)
        var back = 0, oldAlive = 0, intact = 0
        for (device, writers, slice) in devices {
            var reopened: DaxDevice?
            while clock.now < limit {
                if let d = try? device.reopen() { reopened = d; break }
                try? await Task.sleep(for: .milliseconds(100))
            }
            guard let reopened else { continue }
            back += 1
            for w in writers {
                guard let old = w.mapping else { continue }
                var byte = [UInt8](repeating: 0, count: RecordFormat.size)
                let guardedWorked = (try? byte.withUnsafeMutableBytes { try old.read(at: 0, into: $0) }) != nil
                // A raw load meets the PROT_NONE reservation: the policy replaces the page
                // with zeros. The device's first record (magic "DAXR") must not show through.
                let raw = old.withUnsafeMutableBytes { $0.load(fromByteOffset: 0, as: UInt32.self) }
                if guardedWorked || old.state == .open || UInt32(littleEndian: raw) == RecordFormat.magic { oldAlive += 1 }
            }
            if let m = try? reopened.map(offset: 0, length: min(slice, reopened.size)) {
                var record = [UInt8](repeating: 0, count: RecordFormat.size)
                if (try? record.withUnsafeMutableBytes({ try m.read(at: 0, into: $0) })) != nil,
                   record.withUnsafeBytes({ RecordFormat.verify(holder: 0, sequence: 0, $0) }) {
                    intact += 1
                }
                m.close()
            }
            reopened.close()
        }
        return [
            ("devicesBack", .int(Int64(back))),
            ("oldMappingsAlive", .int(Int64(oldAlive))),
            ("reopenedRecordsIntact", .int(Int64(intact))),
        ]
    }
}

/// Descriptors of this process that point at one of `paths`.
func descriptorsOpen(on paths: [String]) -> Int {
    let targets = Set(paths.compactMap { p -> String? in
        guard let r = realpath(p, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    })
    guard let dir = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(dir) }
    var count = 0
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name != ".", name != ".." else { continue }
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/fd/" + name, &buffer, buffer.count - 1)
        guard n > 0 else { continue }
        let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if targets.contains(target) { count += 1 }
    }
    return count
}
