import ArgumentParser
import DaxLog
import DaxMap
import Glibc

/// Holds devices with writers until they are removed: the harness's workload.
struct HoldCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold",
        abstract: "Map devices with writer holders until they are removed; report how the removal went.",
        discussion: """
            Each PATH (a /dev/daxX.Y, or a file on a DAX mount, created with --create SIZE when missing) is \
            split among --holders holders, each a DaxLog whose writer appends records; a record is \
            acknowledged once persistent. How far each log was acknowledged is written to --acked \
            (rewritten atomically as it grows; an existing --acked file that is not an acknowledgement \
            file is refused, never replaced). The PATHs' contents are overwritten: an existing file that \
            holds data daxmap did not write (not all holes, no daxmap log at its start) only with --force. 'READY' is \
            printed on stderr once every writer has acknowledged a record. When the device goes (a \
            uevent, or SIGBUS), holders are notified, release their mappings, what is left is revoked, \
            and one JSON object is printed. Exit 0 after a removal, 1 on an error, 3 on timeout, 5 when a region is owned by another log (a PATH given twice, a second hold without --slot: the owner is named), 64 on bad arguments.
            """)

    @Argument(help: "Devices or files to hold.")
    var paths: [String]

    @Option(help: "Holders (and writers) per path.")
    var holders = 4

    @Option(help: "Where to log acknowledged records, for 'daxmap verify'.")
    var acked: String

    @Option(help: "Seconds to wait for a removal.")
    var timeout = 120

    @Option(parsing: .unconditional, help: "Create each missing PATH as a file of this many bytes (decimal or 0x hex, K/M/G suffixes; never under /dev). Without it a missing PATH is an error.")
    var create: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Same as --create (kept for scripts).", visibility: .hidden))
    var fileSize: String?

    @Flag(help: "Let hold overwrite an existing file that holds data daxmap did not write (without it such a PATH is refused, naming what would be overwritten).")
    var force = false

    @Option(help: "Removal deadline in milliseconds.")
    var deadline = 2000

    @Option(help: "After the removal, print 'REMOVED' on stderr and wait up to this many seconds for the device to come back; then check that the old logs stayed sealed and that a reopen reads the records.")
    var awaitReturn: Int?

    @Option(help: "Use only part SLOT (from 0) of --slots equal parts of each PATH: several hold processes can share one device.")
    var slot = 0

    @Option(help: "How many equal parts each PATH is split into (see --slot).")
    var slots = 1

    @Option(help: "Also this many raw writers per path: unguarded stores through withUnsafeMutableBytes under the replacePages fault policy (nothing acknowledged; they show the process lives).")
    var rawHolders = 0

    // Hidden: for `make bench-retire`'s idle processes (a writer with a pace of seconds is idle).
    @Option(help: ArgumentHelp("Microseconds between a writer's records.", visibility: .hidden))
    var pace = 200

    @Flag(help: "Print JSON (the default output is the same object).")
    var json = false

    /// Where this process's part of `device` starts, and how long it is.
    func part(of device: DaxDevice) -> (base: UInt64, length: UInt64) {
        let length = device.size / UInt64(slots) / device.alignment * device.alignment
        return (UInt64(slot) * length, length)
    }

    func validate() throws {
        guard slots >= 1 && slots <= 256 else { throw ValidationError("--slots must be between 1 and 256, not \(slots)") }
        guard slot >= 0 && slot < slots else { throw ValidationError("--slot must be between 0 and \(slots - 1), not \(slot)") }
        guard !paths.isEmpty else { throw ValidationError("give at least one PATH") }
        guard holders >= 1 && holders <= 256 else { throw ValidationError("--holders must be between 1 and 256, not \(holders)") }
        guard rawHolders >= 0 && rawHolders <= 64 else { throw ValidationError("--raw-holders must be between 0 and 64, not \(rawHolders)") }
        // A writer sleeps its pace between records and the exit waits for it: bounded, so
        // a huge pace cannot keep the command alive long past --timeout.
        guard pace >= 1 && pace <= 1_000_000 else { throw ValidationError("--pace must be between 1 and 1000000 microseconds, not \(pace)") }
        if let size = try createSize() {
            let minimum = UInt64(holders + rawHolders) * 16384
            guard size >= minimum, size <= UInt64(Int64.max) / 2 else {
                throw ValidationError("--create must be between \(minimum) (16 KiB per holder) and \(UInt64(Int64.max) / 2) bytes, not \(size)")
            }
        }
        guard timeout >= 0 else { throw ValidationError("--timeout must not be negative") }
        guard deadline >= 0 else { throw ValidationError("--deadline must not be negative") }
    }

    /// --create (or --file-size) in bytes, through the one byte-count parser of every command.
    func createSize() throws -> UInt64? {
        guard let text = create ?? fileSize else { return nil }
        do { return try parseBytes(text, option: create != nil ? "--create" : "--file-size", operation: "hold", path: paths.first ?? "hold") } catch {
            throw ValidationError(error.message)
        }
    }

    /// Creates `path` (a new file only: never under /dev, never over something, never through a symbolic link).
    func createFile(_ path: String, size: UInt64) throws(DaxError) {
        let parent = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let resolved = Syscalls.realpath(parent.isEmpty ? "/" : parent) ?? parent
        guard resolved != "/dev" && !resolved.hasPrefix("/dev/") else {
            throw DaxError(.notFound, operation: "create", path: path,
                           message: "no such device, and files are never created under /dev; give an existing /dev/daxX.Y or a path on a DAX file system")
        }
        let fd: CInt
        switch Syscalls.open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644) {
        case .success(let f): fd = f
        case .failure(let errno):
            throw DaxError(.system, operation: "create", path: path, length: size, errno: errno,
                           message: "cannot create the file (\(Syscalls.describe(errno)))")
        }
        defer { Syscalls.close(fd) }
        if case .failure(let errno) = Syscalls.ftruncate(fd, Int(size)) {
            _ = Syscalls.unlink(path) // ours: created O_EXCL just above
            throw DaxError(.system, operation: "create", path: path, length: size, errno: errno,
                           message: "cannot size the file to \(size) bytes (\(Syscalls.describe(errno))); nothing was left behind")
        }
    }

    func run() async throws {
        var devices: [(DaxDevice, [LogWriter], UInt64)] = []
        var raw: [RawWriter] = []
        var streams: [AsyncStream<DaxDeviceEvent>] = []
        let log = AckFile(path: acked)
        // A log region owned by another writer (`hold P P`, a second hold on one file): exit 5.
        var ownedElsewhere = false
        do throws(DaxError) {
            try log.checkWritable()
            for path in paths {
                if case .failure = Syscalls.status(ofLink: path) {
                    guard let size = try? createSize() else {
                        throw DaxError(.notFound, operation: "hold", path: path,
                                       message: "no such file or device; pass --create SIZE to create a file there")
                    }
                    try createFile(path, size: size)
                } else {
                    let (slot, slots) = (UInt64(slot), UInt64(slots))
                    let page = UInt64(Syscalls.pageSize)
                    try OverwriteRule.check(path, command: "hold", force: force, what: "the logs of its \(holders) holders",
                                            mark: .log(part: { size in
                                                let length = size / slots / page * page
                                                return slot * length..<(slot + 1) * length
                                            }))
                }
                let device = try DaxDevice.open(path, options: .init(removalDeadline: .milliseconds(deadline)))
                try DaxMonitor.watch(device)
                streams.append(device.events())
                let slice = part(of: device).length / UInt64(holders + rawHolders) / device.alignment * device.alignment
                guard slice >= 8192 else {
                    throw DaxError(.outOfRange, operation: "hold", path: path, length: device.size,
                                   message: "too small for \(holders + rawHolders) holders at alignment \(device.alignment)")
                }
                var writers: [LogWriter] = []
                for i in 0..<holders {
                    do {
                        let l = try DaxLog.open(device: device, offset: part(of: device).base + UInt64(i) * slice, length: slice,
                                                options: .init(creation: .overwrite))
                        writers.append(LogWriter(index: i, log: l))
                    } catch {
                        if error.code == .inUse {
                            ownedElsewhere = true
                            throw DaxError(.busy, operation: "hold", path: path, message: error.message)
                        }
                        throw error.underlying ?? DaxError(.invalidArgument, operation: "hold", path: path, message: error.description)
                    }
                }
                // The raw writers take the slices after the logs'.
                for i in 0..<rawHolders {
                    let w = RawWriter(index: i)
                    w.adopt(try device.map(offset: part(of: device).base + UInt64(holders + i) * slice, length: slice, holder: w,
                                           options: .init(faultPolicy: .replacePages)))
                    raw.append(w)
                }
                devices.append((device, writers, slice))
            }
        } catch {
            if ownedElsewhere {
                printError("daxmap: \(error)")
                throw ExitCode(5)
            }
            throw fail(error)
        }
        let entries = {
            devices.flatMap { d in
                d.1.map { AckFile.Entry(device: d.0.path, holder: $0.index, offset: part(of: d.0).base + UInt64($0.index) * d.2, length: d.2,
                                        through: $0.acknowledgedThrough.load(ordering: .acquiring)) }
            }
        }

        for (_, writers, _) in devices { for w in writers { w.startWriting(pace: .microseconds(pace)) } }
        for w in raw { w.startWriting(pace: .microseconds(pace)) }
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
            do throws(DaxError) { try log.write(entries()) } catch { printError("daxmap: \(error)") }
            if !ready && devices.allSatisfy({ $0.1.allSatisfy { $0.acknowledged.load(ordering: .relaxed) > 0 } })
                && raw.allSatisfy({ $0.rounds.load(ordering: .relaxed) > 0 }) {
                ready = true
                printError("READY")
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        let timedOut = devices.contains { $0.0.lifecycle == .alive }
        for (_, writers, _) in devices { for w in writers { await w.stop() } }
        for w in raw { await w.stop() }
        do throws(DaxError) { try log.write(entries()) } catch { throw fail(error) }
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
            ("rawHolders", .int(Int64(raw.count))),
            // Told of the removal itself (a pagesLost notice of its own fault does not count).
            ("rawHoldersTold", .int(Int64(raw.filter { $0.notifications.contains { $0.kind == .preRemove || $0.kind == .removed } }.count))),
            ("rawRounds", .int(Int64(raw.reduce(0) { $0 + $1.rounds.load(ordering: .relaxed) }))),
            ("rawBytesLost", .uint(raw.reduce(0) { $0 + $1.bytesLost })),
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
    func checkAfterReturn(_ devices: [(DaxDevice, [LogWriter], UInt64)], seconds: Int) async -> [(String, JSON)] {
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
            // The old logs released their mappings: an append must still be refused.
            for w in writers where (try? w.log.append([0])) != nil || w.log.state == .open { oldAlive += 1 }
            if let l = try? DaxLog.open(device: reopened, offset: part(of: reopened).base, length: min(slice, reopened.size),
                                        options: .init(creation: .never, readOnly: true)),
               let first = try? l.records().first, first.sequence == 0,
               first.bytes == RecordPayload.bytes(holder: 0, sequence: 0) {
                intact += 1
                l.close()
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
    let targets = Set(paths.compactMap { Syscalls.realpath($0) })
    guard case .success(let names) = Syscalls.directoryEntries("/proc/self/fd") else { return -1 }
    return names.filter { name in
        name != "." && name != ".." && Syscalls.readlink("/proc/self/fd/" + name).map { targets.contains($0) } == true
    }.count
}
