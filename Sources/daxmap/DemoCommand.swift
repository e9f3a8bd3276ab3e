import ArgumentParser
import DaxLog
import DaxMap
import DaxMapTesting
import Glibc
import Synchronization

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Holders append records to DaxLogs; real faults and a removal hit them; every acknowledged record is verified.",
        discussion: """
            With no --device, an emulated device (a plain file in a temporary folder) stands in for DAX \
            hardware. Faults are real: the backing file is truncated under the live mappings (SIGBUS \
            BUS_ADRERR), and MADV_HWPOISON poisons a mapped page where the kernel supports it (SIGBUS \
            BUS_MCEERR_AR). The removal is requested as an operator's unbind would be: freeze, notify, \
            wait for release, revoke what is left. Each writing holder is a DaxLog: after the removal it \
            reattaches and every acknowledged record is read back.

            A --device is overwritten only with --force, and never resized (the truncation fault is \
            only made on the demo's own file). Exit 0 when no acknowledged record was lost, 1 \
            otherwise or on an error, 64 on bad arguments, 130/143 when interrupted by SIGINT/SIGTERM \
            (the temporary folder is removed and the summary so far printed).
            """)

    @Option(help: "A /dev/daxX.Y, a DAX file, or a plain file to use instead of the emulated default (its contents are overwritten: needs --force).")
    var device: String?

    @Flag(help: "Let the demo overwrite the contents of --device.")
    var force = false

    @Option(help: "Number of holders, each with its own slice of the device.")
    var holders = 4

    @Option(help: "Holders that never release on removal (revoked at the deadline); they write no log.")
    var stubborn = 1

    @Option(help: "Records each writer appends before the faults.")
    var records = 200

    @Option(help: "Removal deadline in milliseconds.")
    var deadline = 300

    @Flag(help: "Print one JSON object instead of the timeline.")
    var json = false

    func validate() throws {
        guard holders >= 1 && holders <= 256 else { throw ValidationError("--holders must be between 1 and 256") }
        guard stubborn >= 0 && stubborn < holders else { throw ValidationError("--stubborn must be between 0 and --holders - 1 (at least one holder writes)") }
        guard records >= 1 && records <= 1000 else { throw ValidationError("--records must be between 1 and 1000") }
        guard deadline >= 0 && deadline <= 600_000 else { throw ValidationError("--deadline must be between 0 and 600000 ms") }
    }

    func run() async throws {
        let timeline = Timeline(quiet: json)
        let slice = UInt64(1 << 20)
        var temporary: String?
        let path: String
        if let device {
            if case .success(let st) = Syscalls.status(ofPath: device), !force {
                let what = st.st_mode & S_IFMT == S_IFREG ? "a regular file of \(st.st_size) bytes" : "a device or special file"
                throw fail(DaxError(.invalidArgument, operation: "demo", path: device,
                                    message: "is \(what); the demo would overwrite its first \(slice * UInt64(holders)) bytes: pass --force to allow it (it is never resized)"))
            }
            path = device
        } else {
            guard case .success(let dir) = Syscalls.makeTemporaryDirectory(prefix: "/tmp/daxmap-demo-") else {
                throw fail(DaxError(.system, operation: "mkdtemp", path: "/tmp", message: "cannot create a temporary folder"))
            }
            temporary = dir
            path = temporary! + "/emulated-dax"
        }
        let progress = Atomic<Int>(0)
        let tempForSignal = temporary
        SignalStop.install { sig in
            if let t = tempForSignal { _ = system("rm -rf '\(t)'") }
            printError("daxmap demo: interrupted by \(sig == SIGINT ? "SIGINT" : "SIGTERM") after \(progress.load(ordering: .relaxed)) steps; \(tempForSignal.map { "removed \($0)" } ?? "the device was left as it is")")
            return 128 + sig
        }
        defer { if let temporary { _ = system("rm -rf '\(temporary)'") } }

        // 1. Open; a DaxLog per writing holder, a raw slice for each stubborn one.
        let opened: DaxDevice
        do {
            let options = DaxDevice.OpenOptions(requiredGranularity: .page, removalDeadline: .milliseconds(deadline))
            if temporary != nil {
                _ = try DaxDevice.createEmulated(at: path, size: slice * UInt64(holders))
            }
            opened = try DaxDevice.open(path, options: options)
        } catch { throw fail(error) }
        let sliceLength = max(slice / opened.alignment, 1) * opened.alignment
        guard sliceLength * UInt64(holders) <= opened.size else {
            throw fail(DaxError(.outOfRange, operation: "demo", path: path, length: sliceLength * UInt64(holders),
                                message: "the device is too small for \(holders) holders of \(sliceLength) bytes"))
        }
        timeline.say("opened \(opened)")
        let events = opened.events()
        let eventLog = Task {
            var faults = 0
            for await event in events {
                if case .fault = event { faults += 1 }
                timeline.say("  event: \(event)")
            }
            return faults
        }
        let writing = holders - stubborn
        var writers: [LogWriter] = []
        var stubborns: [SliceHolder] = []
        do throws(DaxError) {
            for i in 0..<holders {
                let at = UInt64(i) * sliceLength
                if i < writing {
                    do {
                        let log = try DaxLog.open(device: opened, offset: at, length: sliceLength, options: .init(creation: .overwrite))
                        writers.append(LogWriter(index: i, log: log))
                    } catch {
                        throw error.underlying ?? DaxError(.invalidArgument, operation: "demo", path: path, message: error.description)
                    }
                } else {
                    let h = SliceHolder(index: i, stubborn: true)
                    h.adopt(try opened.map(offset: at, length: sliceLength, holder: h))
                    stubborns.append(h)
                }
            }
        } catch { throw fail(error) }
        timeline.say("\(holders) holders on \(sliceLength) bytes each: \(writing) DaxLogs, \(stubborn) stubborn raw mappings")
        for w in writers { w.startWriting(count: records) }
        for w in writers { await w.waitForWriter() }
        progress.store(1, ordering: .relaxed)
        let beforeFaults = writers.reduce(0) { $0 + $1.acknowledged.load(ordering: .relaxed) }
        timeline.say("appended and persisted \(beforeFaults) records")

        var faultsInjected: [String] = []
        var hwpoison = "not tried"
        // 2. Real memory failure where the kernel supports it, on a stubborn holder's page.
        if let m = stubborns.first?.mapping {
            let page = Syscalls.pageSize
            switch m.injectMemoryFailure(at: m.count - page) {
            case .caught(let error):
                hwpoison = "caught"
                faultsInjected.append("hwpoison")
                timeline.say("fault: MADV_HWPOISON at device offset \(m.offset + UInt64(m.count - page)): \(error.code) caught, \(error.message)")
            case .unsupported(let errno):
                hwpoison = "unsupported"
                timeline.say("fault: MADV_HWPOISON refused by this kernel (\(errno)): no CONFIG_MEMORY_FAILURE here; real poison runs in the qemu harness")
            case .notRaised:
                hwpoison = "not raised"
                timeline.say("fault: MADV_HWPOISON returned without a signal")
            }
        }

        // 3. Real fault: truncate the demo's own file under the live mappings, inside
        //    the last log's slice just past its acknowledged records.
        let victim = writers[writers.count - 1]
        if temporary != nil {
            let page = UInt64(Syscalls.pageSize)
            let used = UInt64(4096 + victim.acknowledged.load(ordering: .relaxed) * 256)
            let cut = UInt64(victim.index) * sliceLength + (used + page) / page * page
            _ = Syscalls.truncate(path, Int(cut)) // the demo's own file: a failure shows as no fault
            faultsInjected.append("truncate")
            timeline.say("fault: truncated the backing file to \(cut) bytes under the live mappings")
            victim.startWriting() // its next record lands past the end: real SIGBUS, guarded → thrown
            await victim.waitForWriter()
            if let error = victim.lastError { timeline.say("  holder \(victim.index): append threw \(error.code): \(error.underlying.map { "\($0.code): \($0.message)" } ?? error.message)") }
            // An unguarded read past the end through a raw pointer: the page is replaced, the loss reported.
            if let m = stubborns.first?.mapping {
                let value = m.withUnsafeMutableBytes { $0[0] }
                try? await Task.sleep(for: .milliseconds(20))
                timeline.say("  unguarded read past the end returned \(value); lost ranges now \(m.lostRanges.map { "[\($0.lowerBound), \($0.upperBound))" })")
            }
        } else {
            timeline.say("fault: truncation skipped (not the demo's own file)")
        }
        progress.store(2, ordering: .relaxed)
        try? await Task.sleep(for: .milliseconds(50))

        // 4. Removal: freeze, notify, wait for release, revoke what is left.
        for w in writers where w.lastError == nil { w.startWriting() }
        timeline.say("removal requested (as an operator's unbind)")
        let report = await opened.beginRemoval()
        for w in writers { await w.stop() }
        progress.store(3, ordering: .relaxed)
        timeline.say("removal completed in \(Int(milliseconds(report.duration))) ms: \(report.holdersNotified) holders notified, \(report.mappingsReleased) mappings released, \(report.mappingsRevoked) revoked; logs \(writers.map(\.log.state.description).joined(separator: ", "))")
        var revokedThrew = false
        if let h = stubborns.first, let m = h.mapping {
            var byte = [UInt8](repeating: 0, count: 1)
            do { try byte.withUnsafeMutableBytes { try m.read(at: 0, into: $0) } } catch {
                let error = asDaxError(error)
                revokedThrew = error.code == .revoked
                timeline.say("  stubborn holder \(h.index): guarded read now throws \(error.code)")
            }
        } else { revokedThrew = true }
        let mapAfter: String
        do { _ = try opened.map(offset: 0, length: opened.alignment); mapAfter = "allowed" } catch { mapAfter = error.code.name }
        timeline.say("  new mappings of the removed device: \(mapAfter)")

        // 5. The device comes back: every log reattaches; every acknowledged record is read back.
        if temporary != nil { _ = Syscalls.truncate(path, Int(sliceLength * UInt64(holders))) } // a failure shows in the reattach
        var verified = 0, acknowledged = 0
        var back: DaxDevice?
        do {
            let device = try opened.reopen()
            back = device
            for w in writers {
                let recovery: DaxLogRecovery
                do { recovery = try w.log.reattach(to: device) } catch { throw error.underlying ?? DaxError(.system, operation: "reattach", path: path, message: error.description) }
                let through = w.acknowledgedThrough.load(ordering: .acquiring)
                acknowledged += w.acknowledged.load(ordering: .acquiring)
                let got: [DaxLogRecord]
                do { got = try w.log.records() } catch { throw DaxError(.system, operation: "read", path: path, message: error.description) }
                for r in got where r.sequence < through && r.bytes == RecordPayload.bytes(holder: w.index, sequence: r.sequence) { verified += 1 }
                timeline.say("  holder \(w.index): reattached, \(recovery)")
                w.log.close()
            }
        } catch { throw fail(asDaxError(error)) }
        back?.close()
        progress.store(4, ordering: .relaxed)
        timeline.say("device back: logs reattached and \(verified) of \(acknowledged) acknowledged records read back")

        var sawNotification = Set<Int>()
        for w in writers where !w.notifications.isEmpty { sawNotification.insert(w.index) }
        for h in stubborns where !h.notifications.isEmpty { sawNotification.insert(h.index) }
        let faultsCaught = writers.reduce(0) { $0 + $1.faultsCaught.load(ordering: .relaxed) }
        opened.close()
        let faultEvents = await eventLog.value
        let lost = acknowledged - verified
        let graceful = lost == 0 && sawNotification.count == holders
        if json {
            printLine(JSON.object([
                ("device", .string(path)),
                ("kind", .string(opened.kind.rawValue)),
                ("granularity", .string(opened.granularity.description)),
                ("holders", .int(Int64(holders))),
                ("holdersNotified", .int(Int64(sawNotification.count))),
                ("faultsInjected", .array(faultsInjected.map { .string($0) })),
                ("hwpoison", .string(hwpoison)),
                ("faultsCaught", .int(Int64(faultsCaught))),
                ("faultSignals", .int(Int64(faultEvents))),
                ("mappingsReleased", .int(Int64(report.mappingsReleased))),
                ("mappingsRevoked", .int(Int64(report.mappingsRevoked))),
                ("revokedAccessThrew", .bool(revokedThrew)),
                ("mapAfterRemoval", .string(mapAfter)),
                ("removalMilliseconds", .double(milliseconds(report.duration))),
                ("recordsAcknowledged", .int(Int64(acknowledged))),
                ("recordsVerified", .int(Int64(verified))),
                ("recordsLost", .int(Int64(lost))),
                ("exitedGracefully", .bool(graceful)),
            ]).rendered())
        } else {
            printLine("""
                summary: \(holders) holders, \(sawNotification.count) notified, \(faultEvents) fault signals handled \
                (\(faultsCaught) thrown to writers), \(report.mappingsReleased) released, \(report.mappingsRevoked) revoked, \
                \(acknowledged) records acknowledged, \(verified) verified, \(lost) lost; process alive
                """)
        }
        if !graceful { throw ExitCode(1) }
    }
}

/// The human timeline, with milliseconds since start.
final class Timeline: Sendable {
    let quiet: Bool
    let start = ContinuousClock.now

    init(quiet: Bool) { self.quiet = quiet }

    func say(_ line: String) {
        guard !quiet else { return }
        let stamp = String(Int(milliseconds(ContinuousClock.now - start)))
        printLine(String(repeating: " ", count: max(0, 6 - stamp.count)) + stamp + " ms  " + line)
    }
}

func milliseconds(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
}
