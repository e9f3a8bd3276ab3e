import Glibc
import Synchronization
import Testing
import DaxMapSync
import CDaxMap
@testable import DaxMap
import DaxMapTesting

/// The holder contract at its edges: deadlines against holders that block,
/// never answer or are actors; every failure told once, whole, and never lost
/// to a full ring; answers counted; bad ranges typed.
@Suite(.serialized) struct FaultPathTests {
    /// A holder whose notifyFailure blocks its thread until `release` is set:
    /// the way a holder doing a synchronous flush or taking a lock behaves.
    final class BlockingHolder: DaxHolder, CustomStringConvertible {
        let name: String
        let release: Flag
        let entered = Flag()
        init(_ name: String, release: Flag) {
            self.name = name
            self.release = release
        }
        var description: String { name }
        func notifyFailure(_ failure: DaxFailure) async -> Bool {
            entered.set()
            while !release.isSet { usleep(1000) } // blocks the thread, not the task
            return true
        }
    }

    /// Does not answer until the test lets it (after the report): as a holder
    /// that never answers looks to the removal.
    final class SilentHolder: DaxHolder, CustomStringConvertible {
        let waiting = Locked<(released: Bool, calls: [CheckedContinuation<Void, Never>])>((false, []))
        var description: String { "silent" }
        func notifyFailure(_ failure: DaxFailure) async -> Bool {
            await withCheckedContinuation { c in
                let now = waiting.withLock { w -> Bool in
                    if !w.released { w.calls.append(c) }
                    return w.released
                }
                if now { c.resume() }
            }
            return true
        }
        func answer() {
            let calls = waiting.withLock { w -> [CheckedContinuation<Void, Never>] in
                w.released = true
                defer { w.calls.removeAll() }
                return w.calls
            }
            for c in calls { c.resume() }
        }
    }

    actor ActorHolder: DaxHolder {
        private(set) var told: [DaxFailure.Kind] = []
        private(set) var thread = ""
        nonisolated let release: Flag
        init(release: Flag) { self.release = release }
        func notifyFailure(_ failure: DaxFailure) async -> Bool {
            told.append(failure.kind)
            thread = currentThreadName()
            // Blocks the actor's thread too: an actor is no shelter for the pool.
            while !release.isSet { usleep(1000) }
            return true
        }
    }

    /// Hops to the main actor, then does not answer until the test lets it.
    @MainActor final class MainActorHolder: DaxHolder {
        nonisolated let silence = SilentHolder()
        nonisolated func notifyFailure(_ failure: DaxFailure) async -> Bool {
            await hop()
            return await silence.notifyFailure(failure)
        }
        func hop() {}
    }

    private func device(_ dir: TemporaryDirectory, pages: Int = 16, deadline: Duration = .seconds(2)) throws -> DaxDevice {
        let path = dir.file("dev")
        _ = try DaxDevice.createEmulated(at: path, size: UInt64(pages * pageSize))
        return try DaxDevice.open(path, options: .init(removalDeadline: deadline))
    }

    // Defect 1: the deadline holds against holders that block (more of them
    // than the machine has cores), never answer, or are actors.
    @Test func theDeadlineHoldsWhateverTheHoldersDo() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try device(dir, pages: 8)
        let release = Flag()
        let blockers = (0..<4).map { BlockingHolder("blocking-\($0)", release: release) }
        let actorHolder = ActorHolder(release: release)
        let mainHolder = await MainActorHolder()
        let silent = SilentHolder()
        let holders: [any DaxHolder] = blockers + [silent, actorHolder, mainHolder]
        var mappings: [DaxMapping] = []
        for (i, holder) in holders.enumerated() {
            mappings.append(try device.map(offset: UInt64(i * pageSize), length: UInt64(pageSize), holder: holder))
        }

        // Started from here and read back by polling, not awaited on another task:
        // what is measured is the removal's own thread, whatever the pool is doing
        // (other suites' synchronous tests can hold it for seconds under a sanitizer).
        let run = device.dispatcher.startRemoval(source: .request, deadline: .milliseconds(300))
        // Bounded: the blocking holders only return once the report is in, so a
        // removal that waited for any of them would never finish.
        let finished = await waitUntil(seconds: 30) { run.completedReport != nil }
        // None returns before the release, so all four inside at once means four
        // threads blocked together: more than this machine has cores.
        let blockedAll = await waitUntil(seconds: 30) { blockers.allSatisfy { $0.entered.isSet } }
        release.set()
        #expect(finished, "the removal waited for a holder call to return")
        #expect(blockedAll, "every blocking holder was called, concurrently")
        // The actor's code ran on a holder thread, not on the cooperative pool.
        #expect(await actorHolder.thread == HolderExecutor.workerName)
        let r = try #require(run.completedReport)
        #expect(r.holdersNotified == holders.count)
        #expect(r.mappingsRevoked == holders.count)
        #expect(r.holdersAnswered == 0)
        #expect(Set(r.unansweredHolders).isSuperset(of: blockers.map(\.name) + ["silent"]), "\(r.unansweredHolders)")
        #expect(mappings.allSatisfy { $0.state == .revoked })
        #expect(device.lifecycle == .gone)
        silent.answer() // late answers change nothing now; they only let the tasks end
        mainHolder.silence.answer()
    }

    // Defect 4: a holder that closes inside notifyFailure and returns true is counted.
    @Test(arguments: 0..<9) func aHolderThatReleasesInsideTheCallIsCountedAsHandled(_ run: Int) async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try device(dir, pages: 4)
        final class Closer: DaxHolder {
            func notifyFailure(_ failure: DaxFailure) async -> Bool {
                for m in failure.mappings { m.close() } // the mappings come with the failure
                // Releasing first and answering a moment later (after flushing its own
                // state, say): the answer still arrives before the report is built.
                usleep(20_000) // on its holder thread: no dependence on the pool
                return true
            }
        }
        let holder = Closer()
        let m = try device.map(holder: holder)
        let report = await device.beginRemoval()
        #expect(report.holdersHandled == 1, "run \(run): \(report)")
        #expect(report.holdersAnswered == 1)
        #expect(report.unansweredHolders.isEmpty)
        #expect(report.mappingsReleased == 1)
        #expect(report.mappingsRevoked == 0)
        #expect(m.state == .closed)
    }

    // Defects 2 and 3: a truncation under guarded readers is told once, whole:
    // [new size, end), never a page at a time, never partly.
    @Test func aTruncationUnderGuardedReadersIsToldOnceAsTheWholeLostTail() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let pages = 512 // 2 MiB
        let device = try device(dir, pages: pages)
        let holder = RecordingHolder("reader")
        let mapping = try device.map(holder: holder, options: .init(prefault: true))
        holder.adopt(mapping)
        try [UInt8](repeating: 5, count: pages * pageSize).withUnsafeBytes { try mapping.write($0, at: 0) }

        let stop = Flag()
        let refused = Counter()
        let readers = (0..<4).map { r in
            spawnThread {
                var buffer = [UInt8](repeating: 0, count: 256)
                var page = r
                while !stop.isSet {
                    page = (page * 7 + 13) % pages
                    do { try buffer.withUnsafeMutableBytes { try mapping.read(at: page * pageSize, into: $0) } }
                    catch { refused.add() }
                }
            }
        }
        let newSize = (pages - 256) * pageSize // 1 MiB below the tail
        truncateFile(dir.file("dev"), to: newSize)
        await waitUntil(seconds: 20) { refused.value > 5000 && !holder.failures.isEmpty }
        try await Task.sleep(for: .milliseconds(100))
        stop.set()
        for t in readers { joinThread(t) }

        let removed = holder.failures.filter { $0.kind == .removed }
        #expect(removed.map(\.range) == [UInt64(newSize)..<UInt64(pages * pageSize)], "\(removed)")
        #expect(holder.failures.allSatisfy { $0.kind == .removed }, "\(holder.failures)")
        #expect(mapping.failures.contains(DaxFailedRange(range: UInt64(newSize)..<UInt64(pages * pageSize), kind: .removed)))
        #expect(device.lifecycle == .alive)
        var b = [UInt8](repeating: 0, count: 64)
        try b.withUnsafeMutableBytes { try mapping.read(at: newSize - pageSize, into: $0) }
        #expect(b.allSatisfy { $0 == 5 })
    }

    // Defect 2: when the ring overflows, the failures behind the dropped records
    // still reach their holders, re-derived and marked as such.
    @Test func aFullRingLosesRecordsNeverFailures() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try device(dir, pages: 16)
        let noisy = RecordingHolder("noisy"), quiet = RecordingHolder("quiet")
        let a = try device.map(offset: 0, length: UInt64(8 * pageSize), holder: noisy)
        let b = try device.map(offset: UInt64(8 * pageSize), length: UInt64(8 * pageSize), holder: quiet)
        let before = DaxMonitor.statistics.faultsDropped
        DaxMapTestHooks.pauseDrains()
        // Fill the ring (4096) with notices about one page of `a`...
        for _ in 0..<4200 { _ = a.raiseForTesting(code: BUS_MCEERR_AO_, at: 0, addressLSB: 12, guarded: false) }
        // ...so the record of this poison consumed in `b` is dropped.
        let error = b.raiseForTesting(code: BUS_MCEERR_AR_, at: 3 * pageSize, addressLSB: 12, guarded: true)
        DaxMapTestHooks.resumeDrains()
        #expect(error?.code == .mediaFailure)
        let told = await quiet.waitFor(anyOf: [.memoryFailureActionOptional, .memoryFailureActionRequired])
        #expect(DaxMonitor.statistics.faultsDropped > before)
        #expect(told?.range == UInt64(11 * pageSize)..<UInt64(12 * pageSize))
        #expect(told?.reconstructed == true)
        #expect(b.failures == [DaxFailedRange(range: UInt64(11 * pageSize)..<UInt64(12 * pageSize), kind: .poison)])
        withExtendedLifetime(a) {}
    }

    // Defect 5: one query lists every failed range with its kind, uncapped.
    @Test func failuresListEveryKindAndMoreThanSixteenExtents() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try device(dir, pages: 128)
        let mapping = try device.map()
        for i in 0..<40 { // distinct, non-adjacent poisoned pages
            _ = mapping.raiseForTesting(code: BUS_MCEERR_AR_, at: 2 * i * pageSize, addressLSB: 12, guarded: true)
        }
        truncateFile(dir.file("dev"), to: 100 * pageSize)
        var byte = [UInt8](repeating: 0, count: 1)
        let removed = #expect(throws: DaxError.self) { try byte.withUnsafeMutableBytes { try mapping.read(at: 110 * pageSize, into: $0) } }
        #expect(removed?.code == .deviceRemoved)
        _ = mapping.withUnsafeMutableBytes { $0[120 * pageSize] } // unguarded: pages replaced

        // The monitor widens the handler's removed mark to the file's whole lost tail.
        let tail = DaxFailedRange(range: UInt64(100 * pageSize)..<UInt64(128 * pageSize), kind: .removed)
        #expect(await waitUntil(seconds: 20) { mapping.failures.contains(tail) }, "\(mapping.failures)")
        let failures = mapping.failures
        let poison = failures.filter { $0.kind == .poison }
        #expect(poison.count == 40, "\(poison.count) poison extents")
        #expect(poison.allSatisfy { $0.range.count == pageSize })
        #expect(failures.contains { $0.kind == .removed && $0.range.contains(UInt64(110 * pageSize)) })
        #expect(failures.contains { $0.kind == .pagesLost && $0.range.contains(UInt64(120 * pageSize)) })
        #expect(mapping.failedRanges.count == 40)
        mapping.close()
        #expect(mapping.failures == failures, "kept after close")
    }

    // Defect 6: ranges that overflow are typed errors, not traps.
    @Test(arguments: [(UInt64.max - 4095, UInt64(8192)), (UInt64(4096), UInt64.max - 4095),
                      (UInt64(1) << 63, UInt64(1) << 63), (UInt64(0), UInt64.max), (UInt64.max, UInt64(1))] as [(UInt64, UInt64)])
    func overflowingRangesAreOutOfRange(_ offset: UInt64, _ length: UInt64) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try device(dir, pages: 4)
        let error = #expect(throws: DaxError.self) { try device.map(offset: offset, length: length) }
        #expect(error?.code == .outOfRange, "\(String(describing: error))")
        #expect(error?.offset == offset)
    }

    // Defect 7: the holder gets the mappings concerned, so it can act on a
    // failure even before `map` has handed the mapping to it.
    @Test func failuresCarryTheHoldersMappings() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try device(dir, pages: 16)
        let holder = RecordingHolder("h") // adopts nothing: only what the failure names
        let m1 = try device.map(offset: 0, length: UInt64(4 * pageSize), holder: holder)
        let m2 = try device.map(offset: UInt64(8 * pageSize), length: UInt64(4 * pageSize), holder: holder)
        _ = m2.raiseForTesting(code: BUS_MCEERR_AR_, at: 0, addressLSB: 12, guarded: true)
        let poison = await holder.waitFor(.memoryFailureActionRequired)
        #expect(poison?.mappings.map(\.id) == [m2.id])
        let report = await device.beginRemoval()
        let preRemove = holder.failures.first { $0.kind == .preRemove }
        #expect(Set(preRemove?.mappings.map(\.id) ?? []) == [m1.id, m2.id])
        #expect(report.mappingsReleased == 2, "the holder closed what the failure named: \(report)")
    }

    // Defect 8, the race: a guarded copy under a concurrent close throws `.closed`, never crashes.
    @Test func aGuardedAccessRacingCloseThrowsClosed() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let device = try device(dir, pages: 256)
        var codes = Set<String>()
        for _ in 0..<50 {
            let m = try device.map()
            let started = Flag()
            let code = Locked<String?>(nil)
            let reader = spawnThread {
                var buffer = [UInt8](repeating: 0, count: 256 * pageSize)
                started.set()
                while true {
                    do { try buffer.withUnsafeMutableBytes { try m.read(at: 0, into: $0) } }
                    catch {
                        code.withLock { $0 = (error as? DaxError)?.code.name ?? "\(error)" }
                        return
                    }
                }
            }
            while !started.isSet { usleep(100) }
            usleep(200)
            m.close()
            joinThread(reader)
            codes.insert(code.withLock { $0 } ?? "none")
        }
        #expect(codes == ["closed"], "\(codes)")
    }
}

/// A flag threads share.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

/// A counter threads share.
final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    func add() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}

func currentThreadName() -> String {
    var buffer = [CChar](repeating: 0, count: 32)
    _ = cdaxmap_thread_get_name(&buffer, buffer.count)
    return String(cString: buffer)
}
