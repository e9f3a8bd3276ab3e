import Glibc
import Testing
@testable import DaxMap
import DaxMapTesting

/// Real signals: truncation gives real BUS_ADRERR; memory-failure codes come
/// from SIGBUS the thread sends itself (rt_tgsigqueueinfo), because this host's
/// kernel has no CONFIG_MEMORY_FAILURE (the qemu harness covers real poison).
@Suite(.serialized) struct FaultTests {
    /// A 16-page emulated device mapped whole by one holder.
    private func setup(_ dir: TemporaryDirectory, policy: FaultPolicy = .replacePages,
                       deadline: Duration = .seconds(2)) throws -> (DaxDevice, DaxMapping, RecordingHolder) {
        let path = dir.file("dev")
        _ = try DaxDevice.createEmulated(at: path, size: UInt64(16 * pageSize))
        let device = try DaxDevice.open(path, options: .init(removalDeadline: deadline))
        let holder = RecordingHolder("h")
        let mapping = try device.map(holder: holder, options: .init(faultPolicy: policy))
        holder.adopt(mapping)
        return (device, mapping, holder)
    }

    @Test func truncationUnderALiveMappingMakesAGuardedReadThrow() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (device, mapping, holder) = try setup(dir)
        try [UInt8](repeating: 7, count: 16 * pageSize).withUnsafeBytes { try mapping.write($0, at: 0) }
        truncateFile(dir.file("dev"), to: 8 * pageSize)

        var buffer = [UInt8](repeating: 0, count: 64)
        let error = #expect(throws: DaxError.self) {
            try buffer.withUnsafeMutableBytes { try mapping.read(at: 12 * pageSize + 100, into: $0) }
        }
        #expect(error?.code == .deviceRemoved)
        #expect(error?.offset == UInt64(12 * pageSize + 100))
        // Below the truncation point the data is intact.
        try buffer.withUnsafeMutableBytes { try mapping.read(at: 4 * pageSize, into: $0) }
        #expect(buffer.allSatisfy { $0 == 7 })

        let failure = await holder.waitFor(.removed)
        #expect(failure?.range == UInt64(8 * pageSize)..<UInt64(16 * pageSize)) // the whole lost tail, once
        #expect(device.lifecycle == .alive) // part of the file is still there: not a removal
    }

    @Test func unguardedReadAfterTruncationReplacesThePageAndReportsIt() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (_, mapping, holder) = try setup(dir)
        try [UInt8](repeating: 9, count: 16 * pageSize).withUnsafeBytes { try mapping.write($0, at: 0) }
        truncateFile(dir.file("dev"), to: 8 * pageSize)

        let value = mapping.withUnsafeMutableBytes { $0[10 * pageSize + 5] } // real SIGBUS, page replaced
        #expect(value == 0)
        // Untrusted at once, before the monitor has even run.
        var first = [UInt8](repeating: 0, count: 1)
        let early = #expect(throws: DaxError.self) { try first.withUnsafeMutableBytes { try mapping.read(at: 10 * pageSize + 5, into: $0) } }
        #expect(early?.code == .deviceRemoved)
        // Told once, as the whole lost tail; the replaced page is inside it.
        let failure = await holder.waitFor(.removed)
        #expect(failure?.range == UInt64(8 * pageSize)..<UInt64(16 * pageSize))
        #expect(mapping.lostRanges.contains(UInt64(10 * pageSize)..<UInt64(11 * pageSize)))
        #expect(mapping.failures.contains(DaxFailedRange(range: UInt64(8 * pageSize)..<UInt64(16 * pageSize), kind: .removed)))
        // What was read there is never trusted again through the guarded API.
        var b = [UInt8](repeating: 0, count: 1)
        let error = #expect(throws: DaxError.self) { try b.withUnsafeMutableBytes { try mapping.read(at: 10 * pageSize, into: $0) } }
        #expect(error?.code == .deviceRemoved)
    }

    @Test func selfSentActionRequiredInAGuardIsAMediaFailureWithOffsetAndLength() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (_, mapping, holder) = try setup(dir)
        let error = mapping.raiseForTesting(code: BUS_MCEERR_AR_, at: 5 * pageSize + 123, addressLSB: 12, guarded: true)
        #expect(error?.code == .mediaFailure)
        #expect(error?.offset == UInt64(5 * pageSize))
        #expect(error?.length == UInt64(pageSize))
        // The extent is untrusted from now on, at once (marked by the handler itself).
        #expect(mapping.failedRanges == [UInt64(5 * pageSize)..<UInt64(6 * pageSize)])
        var b = [UInt8](repeating: 0, count: 8)
        let again = #expect(throws: DaxError.self) { try b.withUnsafeMutableBytes { try mapping.read(at: 5 * pageSize + 8, into: $0) } }
        #expect(again?.code == .mediaFailure)
        #expect(again?.offset == UInt64(5 * pageSize))
        try b.withUnsafeMutableBytes { try mapping.read(at: 6 * pageSize, into: $0) } // the next page is fine
        let failure = await holder.waitFor(.memoryFailureActionRequired)
        #expect(failure?.range == UInt64(5 * pageSize)..<UInt64(6 * pageSize))
    }

    @Test func selfSentActionOptionalNotifiesOnlyTheHoldersOfThatRange() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: UInt64(16 * pageSize))
        let a = RecordingHolder("a"), b = RecordingHolder("b")
        let ma = try device.map(offset: 0, length: UInt64(8 * pageSize), holder: a)
        let mb = try device.map(offset: UInt64(8 * pageSize), length: UInt64(8 * pageSize), holder: b)
        _ = mb.raiseForTesting(code: BUS_MCEERR_AO_, at: 3 * pageSize, addressLSB: 12, guarded: false)
        let failure = await b.waitFor(.memoryFailureActionOptional)
        #expect(failure?.range == UInt64(11 * pageSize)..<UInt64(12 * pageSize))
        try await Task.sleep(for: .milliseconds(50))
        #expect(a.failures.isEmpty)
        #expect(device.lifecycle == .alive)
        withExtendedLifetime(ma) {}
    }

    @Test func actionOptionalOverTheWholeDeviceIsAPreRemove() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (device, mapping, holder) = try setup(dir)
        let events = device.events()
        // si_addr_lsb 21 (2 MiB) over a 64 KiB device: the whole device is failing.
        _ = mapping.raiseForTesting(code: BUS_MCEERR_AO_, at: 0, addressLSB: 21, guarded: false)
        let report = await removalReport(events)
        #expect(report?.source == .memoryFailure)
        #expect(report?.holdersNotified == 1)
        #expect(report?.mappingsReleased == 1)
        #expect(report?.mappingsRevoked == 0)
        #expect(holder.failures.map(\.kind) == [.preRemove])
        #expect(device.lifecycle == .gone)
    }

    @Test func truncatingTheWholeFileIsARemovalAndHoldersRelease() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (device, mapping, holder) = try setup(dir)
        let events = device.events()
        truncateFile(dir.file("dev"), to: 0)
        var b = [UInt8](repeating: 0, count: 8)
        let error = #expect(throws: DaxError.self) { try b.withUnsafeMutableBytes { try mapping.read(at: 0, into: $0) } }
        #expect(error?.code == .deviceRemoved)
        let report = await removalReport(events)
        #expect(report?.source == .accessError)
        #expect(report?.mappingsReleased == 1)
        #expect(holder.failures.first?.kind == .preRemove)
        #expect(mapping.state == .closed)
        let again = #expect(throws: DaxError.self) { try device.map() }
        #expect(again?.code == .deviceRemoved)
    }

    @Test func aHolderThatNeverReleasesIsRevokedAfterTheDeadline() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        _ = try DaxDevice.createEmulated(at: path, size: UInt64(16 * pageSize))
        // Long enough that a loaded machine still sees the removal under way.
        let device = try DaxDevice.open(path, options: .init(removalDeadline: .seconds(2)))
        let good = RecordingHolder("good"), stubborn = RecordingHolder("stubborn", stubborn: true)
        let m1 = try device.map(offset: 0, length: UInt64(8 * pageSize), holder: good)
        good.adopt(m1)
        let m2 = try device.map(offset: UInt64(8 * pageSize), length: UInt64(8 * pageSize), holder: stubborn)
        stubborn.adopt(m2)

        async let removal = device.beginRemoval()
        // Frozen while the removal runs (it waits 2 s for the stubborn holder):
        // no new mapping.
        await waitUntil(seconds: 10) { device.lifecycle != .alive }
        #expect(device.lifecycle == .going)
        let frozen = #expect(throws: DaxError.self) { try device.map(offset: 0, length: UInt64(pageSize)) }
        #expect(frozen?.code == .deviceGoing)
        let report = await removal

        #expect(report.holdersNotified == 2)
        #expect(report.holdersHandled == 1)
        #expect(report.mappingsReleased == 1)
        #expect(report.mappingsRevoked == 1)
        #expect(report.duration >= .seconds(2))
        #expect(m1.state == .closed)
        #expect(m2.state == .revoked)
        var b = [UInt8](repeating: 0, count: 8)
        let error = #expect(throws: DaxError.self) { try b.withUnsafeMutableBytes { try m2.read(at: 0, into: $0) } }
        #expect(error?.code == .revoked)
        // The revoked range is a PROT_NONE reservation: a raw read is a real SIGSEGV
        // that the policy absorbs (replaced, reported), the process lives.
        let raw = m2.withUnsafeMutableBytes { $0[0] }
        #expect(raw == 0)
        // After the device "comes back", reopen works; revoked stays revoked.
        let back = try device.reopen()
        let fresh = try back.map()
        try fresh.persistAll()
        #expect(m2.state == .revoked)
    }

    @Test func aSIGBUSOutsideDaxmapsRangesKeepsItsPreviousEffect() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let probe = buildDirectory + "/daxmap-probe"
        let baseline = runProgram([probe, "foreign-sigbus-baseline", dir.path])
        let withDaxmap = runProgram([probe, "foreign-sigbus", dir.path])
        // Death by SIGBUS (135), or whatever the sanitizer runtime makes of it under `make tsan`.
        #expect(baseline.status != 0 && !baseline.stdout.contains("survived"), "baseline: \(baseline)")
        #expect(withDaxmap.status == baseline.status, "with daxmap: \(withDaxmap)")
        #expect(!withDaxmap.stdout.contains("survived"))
        // The previous handler (the Swift runtime's crash reporter, when enabled) still ran.
        if baseline.stderr.contains("Bus error") || baseline.stderr.contains("Crash") {
            #expect(withDaxmap.stderr.contains("Bus error") || withDaxmap.stderr.contains("Crash"), "stderr: \(withDaxmap.stderr)")
        }
    }

    @Test func terminatePolicyDiesWithADiagnosticLine() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let result = runProgram([buildDirectory + "/daxmap-probe", "terminate", dir.path])
        #expect(result.status == 128 + SIGBUS, "\(result)")
        #expect(result.stderr.contains("daxmap: fatal SIGBUS code 0x2"), "stderr: \(result.stderr)")
        #expect(!result.stdout.contains("survived"))
    }
}

/// The fsdax pre-remove storm, reproduced with self-sent notices: many
/// BUS_MCEERR_AO at distinct pages become one pre-remove per holder.
@Suite(.serialized) struct NoticeStormTests {
    @Test func aStormOfSelfSentActionOptionalNoticesIsOnePreRemove() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: UInt64(128 * pageSize))
        let holders = (0..<2).map { RecordingHolder("h\($0)") }
        var mappings: [DaxMapping] = []
        for (i, h) in holders.enumerated() {
            let m = try device.map(offset: UInt64(i * 64 * pageSize), length: UInt64(64 * pageSize), holder: h)
            h.adopt(m)
            mappings.append(m)
        }
        let events = device.events()
        // The storm is decided on what the monitor drains within its window. The
        // kernel queues its notices at once; a sending thread on a busy host can be
        // preempted for longer than the window, so the monitor waits until all are sent.
        DaxMapTestHooks.pauseDrains()
        for page in 0..<48 {
            _ = mappings[page % 2].raiseForTesting(code: BUS_MCEERR_AO_, at: (page / 2) * pageSize, addressLSB: 12, guarded: false)
        }
        DaxMapTestHooks.resumeDrains()
        let report = await removalReport(events)
        #expect(report?.source == .memoryFailure)
        for h in holders {
            #expect(h.failures.map(\.kind) == [.preRemove], "\(h.name): \(h.failures)")
        }
    }
}
