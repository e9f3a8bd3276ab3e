import Glibc
import Synchronization
import Testing
@testable import DaxMap

/// Writers on many threads while real faults and a removal happen: no crash,
/// no deadlock, and every record acknowledged before the removal reads back.
/// `make tsan` runs this suite under ThreadSanitizer.
@Suite(.serialized) struct ConcurrencyTests {
    /// A holder whose writer thread appends 64-byte records (index-stamped) and
    /// acknowledges each once `write` (copy + persist) returned.
    final class Writer: DaxHolder, @unchecked Sendable {
        let index: Int
        var mapping: DaxMapping! // set once, before the writer thread starts
        let acknowledged = Atomic<Int>(0)
        let thrown = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let notified = Atomic<Int>(0)
        var capacity: Int { mapping.count / 64 }

        init(index: Int, device: DaxDevice, slice: Int) throws {
            self.index = index
            self.mapping = try device.map(offset: UInt64(index * slice), length: UInt64(slice), holder: self)
        }

        func run() {
            var record = [UInt8](repeating: 0, count: 64)
            while !stop.load(ordering: .relaxed) {
                let n = acknowledged.load(ordering: .relaxed)
                if n >= capacity { return }
                for i in 0..<8 { record[i] = UInt8(truncatingIfNeeded: (n + index << 20) >> (8 * i)) }
                do {
                    try record.withUnsafeBytes { try mapping.write($0, at: n * 64) }
                    acknowledged.add(1, ordering: .releasing)
                } catch {
                    thrown.add(1, ordering: .relaxed)
                    return
                }
            }
        }

        func notifyFailure(_ failure: DaxFailure) async -> Bool {
            notified.add(1, ordering: .relaxed)
            if failure.kind == .preRemove {
                // Close under the running writer: its next write meets a PROT_NONE
                // reservation (a real SIGSEGV in a guard) and throws `.closed`.
                mapping.close()
                stop.store(true, ordering: .relaxed)
            }
            return true
        }
    }

    @Test func writersFaultsAndARemovalTogether() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let holders = 6, slice = 256 * pageSize
        _ = try DaxDevice.createEmulated(at: path, size: UInt64((holders + 1) * slice))
        let device = try DaxDevice.open(path, options: .init(removalDeadline: .seconds(10)))
        var writers: [Writer] = []
        for i in 0..<holders { writers.append(try Writer(index: i, device: device, slice: slice)) }
        // The fault zone: the last slice, truncated away under a live mapping.
        let zoneHolder = RecordingHolder("zone")
        let zone = try device.map(offset: UInt64(holders * slice), length: UInt64(slice), holder: zoneHolder)
        zoneHolder.adopt(zone)

        let threads = writers.map { w in spawnThread { w.run() } }
        func progress() -> Int { writers.map { $0.acknowledged.load(ordering: .relaxed) }.min() ?? 0 }
        // Bounded waits: a writer that stopped early fails the test, never hangs it.
        // A writer that filled its slice (a slow scheduler, TSan) has made all the
        // progress it can.
        func awaitProgress(_ wanted: Int) async throws {
            let target = min(wanted, writers[0].capacity)
            let reached = await waitUntil(seconds: 30) { progress() >= target }
            try #require(reached, "writers stopped at \(progress()) records")
        }
        try await awaitProgress(100)
        // Faults from two more threads while the writers write.
        truncateFile(path, to: holders * slice)
        let guardedProber = spawnThread {
            var b = [UInt8](repeating: 0, count: 16)
            for i in 0..<500 { _ = try? b.withUnsafeMutableBytes { try zone.read(at: (i % 256) * pageSize, into: $0) } }
        }
        let rawProber = spawnThread {
            _ = zone.withUnsafeMutableBytes { bytes in (0..<64).reduce(0) { $0 &+ Int(bytes[$1 * 4 * pageSize]) } }
        }
        joinThread(guardedProber)
        joinThread(rawProber)
        // The zone's holder hears about its faults: guarded faults say removed, raw
        // ones pages lost. Which comes first is a race: once the raw prober has
        // lost more extents than the handler tracks, the whole range is untrusted
        // and guarded reads throw without touching it (no signal, no event).
        let heard = await zoneHolder.waitFor(anyOf: [.removed, .pagesLost], seconds: 20)
        #expect(heard != nil)
        #expect(zoneHolder.failures.allSatisfy { [.removed, .pagesLost].contains($0.kind) })

        // Removal while the writers are still writing: they are told, stop, release.
        let before = progress()
        try await awaitProgress(before + 100)
        let report = await device.beginRemoval()
        for t in threads { joinThread(t) }
        #expect(report.mappingsReleased == holders + 1)
        #expect(report.mappingsRevoked == 0)
        #expect(writers.allSatisfy { $0.notified.load(ordering: .relaxed) >= 1 })

        // The device comes back: every acknowledged record is there.
        truncateFile(path, to: (holders + 1) * slice)
        let back = try device.reopen()
        let m = try back.map()
        var lost = 0, total = 0
        var record = [UInt8](repeating: 0, count: 8)
        for w in writers {
            let n = w.acknowledged.load(ordering: .acquiring)
            total += n
            for k in 0..<n {
                try record.withUnsafeMutableBytes { try m.read(at: w.index * slice + k * 64, into: $0) }
                let stamp = (0..<8).reduce(0) { $0 | Int(record[$1]) << (8 * $1) }
                if stamp != k + w.index << 20 { lost += 1 }
            }
        }
        print("concurrency: \(total) records acknowledged by \(holders) writer threads, \(writers.map { $0.thrown.load(ordering: .relaxed) }.reduce(0, +)) writes threw, \(lost) lost; zone heard \(Set(zoneHolder.failures.map(\.kind.rawValue)).sorted())")
        #expect(total > 0)
        #expect(lost == 0)
    }
}

/// A plain pthread, so the writers are real threads, not pool tasks.
final class ThreadBody: @unchecked Sendable {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

func spawnThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    var thread = pthread_t()
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    let rc = pthread_create(&thread, nil, { arg in
        let body = Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue()
        body.body()
        return nil
    }, box)
    precondition(rc == 0)
    return thread
}

func joinThread(_ thread: pthread_t) { pthread_join(thread, nil) }
