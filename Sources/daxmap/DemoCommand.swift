import ArgumentParser
import DaxMap
import Glibc

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Holders write checksummed records; real faults and a removal hit them; every acknowledged record is verified.",
        discussion: """
            With no --device, an emulated device (a plain file in a temporary folder) stands in for DAX \
            hardware. Faults are real: the backing file is truncated under the live mappings (SIGBUS \
            BUS_ADRERR), and MADV_HWPOISON poisons a mapped page where the kernel supports it (SIGBUS \
            BUS_MCEERR_AR). The removal is requested as an operator's unbind would be: freeze, notify, \
            wait for release, revoke what is left.
            """)

    @Option(help: "A /dev/daxX.Y, a DAX file, or a plain file to use instead of the emulated default (its contents are overwritten).")
    var device: String?

    @Option(help: "Number of holders, each with a writer and its own slice of the device.")
    var holders = 4

    @Option(help: "Holders that never release on removal (revoked at the deadline).")
    var stubborn = 1

    @Option(help: "Records each writer appends before the faults.")
    var records = 200

    @Option(help: "Removal deadline in milliseconds.")
    var deadline = 300

    @Flag(help: "Print one JSON object instead of the timeline.")
    var json = false

    func validate() throws {
        guard holders >= 1 && holders <= 256 else { throw ValidationError("--holders must be between 1 and 256") }
        guard stubborn >= 0 && stubborn <= holders else { throw ValidationError("--stubborn must be between 0 and --holders") }
        guard records >= 1 else { throw ValidationError("--records must be at least 1") }
    }

    func run() async throws {
        let timeline = Timeline(quiet: json)
        let slice = UInt64(1 << 20)
        var temporary: String?
        let path: String
        if let device {
            path = device
        } else {
            var template = Array("/tmp/daxmap-demo-XXXXXX".utf8CString)
            guard let dir = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
                throw fail(DaxError(.system, operation: "mkdtemp", path: "/tmp", message: "cannot create a temporary folder"))
            }
            temporary = String(cString: dir)
            path = temporary! + "/emulated-dax"
        }
        defer { if let temporary { _ = system("rm -rf '\(temporary)'") } }

        // 1. Open, map one slice per holder, write.
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
        // The device's own events, live, interleaved with the demo's steps.
        let eventLog = Task {
            var faults = 0
            for await event in events {
                if case .fault = event { faults += 1 }
                timeline.say("  event: \(event)")
            }
            return faults
        }
        let writers = (0..<holders).map { WriterHolder(index: $0, stubborn: $0 >= holders - stubborn) }
        do {
            for w in writers {
                let m = try opened.map(offset: UInt64(w.index) * sliceLength, length: sliceLength, holder: w)
                w.adopt(m)
            }
        } catch { throw fail(error) }
        timeline.say("\(holders) holders mapped \(sliceLength) bytes each (\(stubborn) stubborn)")
        for w in writers { w.startWriting(count: records) }
        for w in writers { await w.waitForWriter() }
        let beforeFaults = writers.reduce(0) { $0 + $1.acknowledged.load(ordering: .relaxed) }
        timeline.say("wrote and persisted \(beforeFaults) records")

        var faultsInjected: [String] = []
        var hwpoison = "not tried"
        // 2. Real fault: truncate the backing file under the live mappings, inside
        //    the last holder's slice just past its acknowledged records.
        let victim = writers[holders - 1]
        if opened.kind == .emulated {
            let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))
            let cursor = UInt64(victim.acknowledged.load(ordering: .relaxed) * RecordFormat.size)
            let cut = UInt64(victim.index) * sliceLength + (cursor + page) / page * page
            _ = truncate(path, off_t(cut))
            faultsInjected.append("truncate")
            timeline.say("fault: truncated the backing file to \(cut) bytes under the live mappings")
            victim.startWriting() // its next record lands past the end: real SIGBUS, guarded → thrown
            await victim.waitForWriter()
            if let error = victim.lastError { timeline.say("  holder \(victim.index): write threw \(error.code): \(error.message)") }
            // An unguarded read through a raw pointer: the page is replaced, the loss reported.
            if let m = victim.mapping {
                let offset = Int(cut - m.offset) + Int(page)
                let value = m.withUnsafeMutableBytes { $0[offset] }
                try? await Task.sleep(for: .milliseconds(20))
                timeline.say("  unguarded read past the end returned \(value); lost ranges now \(m.lostRanges.map { "[\($0.lowerBound), \($0.upperBound))" })")
            }
        } else {
            timeline.say("fault: truncation skipped (\(opened.kind) device)")
        }

        // 3. Real memory failure where the kernel supports it: poison a page no record uses.
        if let m = writers[0].mapping {
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            let offset = m.count - page
            switch m.injectMemoryFailure(at: offset) {
            case .caught(let error):
                hwpoison = "caught"
                faultsInjected.append("hwpoison")
                timeline.say("fault: MADV_HWPOISON at device offset \(m.offset + UInt64(offset)): \(error.code) caught, \(error.message)")
            case .unsupported(let errno):
                hwpoison = "unsupported"
                timeline.say("fault: MADV_HWPOISON refused by this kernel (\(errno)): no CONFIG_MEMORY_FAILURE here; real poison runs in the qemu harness")
            case .notRaised:
                hwpoison = "not raised"
                timeline.say("fault: MADV_HWPOISON returned without a signal")
            }
        }

        // Let the monitor deliver the notifications of the faults.
        try? await Task.sleep(for: .milliseconds(50))

        // 4. Removal: freeze, notify, wait for release, revoke what is left.
        for w in writers where w.lastError == nil { w.startWriting() }
        timeline.say("removal requested (as an operator's unbind)")
        let report = await opened.beginRemoval()
        for w in writers { await w.stop() }
        timeline.say("removal completed in \(Int(milliseconds(report.duration))) ms: \(report.holdersNotified) holders notified, \(report.mappingsReleased) mappings released, \(report.mappingsRevoked) revoked")
        var revokedThrew = false
        if let stubbornHolder = writers.last(where: { $0.stubborn }), let m = stubbornHolder.mapping {
            var byte = [UInt8](repeating: 0, count: 1)
            do { try byte.withUnsafeMutableBytes { try m.read(at: 0, into: $0) } } catch {
                let error = asDaxError(error)
                revokedThrew = error.code == .revoked
                timeline.say("  stubborn holder \(stubbornHolder.index): guarded read now throws \(error.code)")
            }
        }
        let mapAfter: String
        do { _ = try opened.map(offset: 0, length: opened.alignment); mapAfter = "allowed" } catch { mapAfter = error.code.name }
        timeline.say("  new mappings of the removed device: \(mapAfter)")

        // 5. The device comes back: reopen, verify every acknowledged record.
        if opened.kind == .emulated { _ = truncate(path, off_t(sliceLength * UInt64(holders))) }
        var verified = 0, acknowledged = 0
        do {
            let back = try opened.reopen()
            let m = try back.map(offset: 0, length: sliceLength * UInt64(holders))
            var buffer = [UInt8](repeating: 0, count: RecordFormat.size)
            for w in writers {
                let acked = w.acknowledged.load(ordering: .acquiring)
                acknowledged += acked
                for seq in 0..<acked {
                    let at = Int(UInt64(w.index) * sliceLength) + seq * RecordFormat.size
                    try buffer.withUnsafeMutableBytes { try m.read(at: at, into: $0) }
                    if buffer.withUnsafeBytes({ RecordFormat.verify(holder: w.index, sequence: UInt64(seq), $0) }) { verified += 1 }
                }
            }
            m.close()
            back.close()
        } catch { throw fail(asDaxError(error)) }
        timeline.say("device back: reopened and verified \(verified) of \(acknowledged) acknowledged records")

        var sawNotification = Set<Int>()
        for w in writers where !w.notifications.isEmpty { sawNotification.insert(w.index) }
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
