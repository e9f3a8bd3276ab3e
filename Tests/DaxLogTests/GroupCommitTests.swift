import DaxMap
import DaxMapTesting
import Glibc
import Synchronization
import Testing
@testable import DaxLog

/// Appends from several threads share persists (group commit): every
/// acknowledged record comes back, numbers are unique and dense, and a power
/// failure while threads append loses nothing acknowledged.
@Suite struct GroupCommitTests {
    /// Runs `body(thread)` on `threads` threads of their own (not the
    /// cooperative pool, which on a small machine has as few threads as cores).
    static func onThreads<T: Sendable>(_ threads: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
        // Each thread writes its own slot; the joins order those writes before the reads.
        let slots = UnsafeMutableBufferPointer<T?>.allocate(capacity: threads)
        slots.initialize(repeating: nil)
        defer { _ = slots.deinitialize(); slots.deallocate() } // the results are copied out first
        nonisolated(unsafe) let shared = slots
        let ids = (0..<threads).map { t in startThread { shared[t] = body(t) } }
        for id in ids { pthread_join(id, nil) }
        return slots.map { $0! }
    }

    /// What thread `t` appends as its `i`-th record.
    static func bytes(_ t: Int, _ i: Int) -> [UInt8] {
        [UInt8(t), UInt8(i & 0xFF), UInt8(i >> 8)] + [UInt8](repeating: UInt8(truncatingIfNeeded: t &* 7 &+ i), count: (i * 13) % 300)
    }

    @Test func threadsAppendingConcurrentlyGetUniqueDenseNumbersAndEveryRecordRecovers() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let log = try DaxLog.open(device: try DaxDevice.createEmulated(at: path, size: 8 << 20))
        let threads = 4, each = 300
        let got = Self.onThreads(threads) { t -> [(UInt64, [UInt8])] in
            var mine: [(UInt64, [UInt8])] = []
            for i in 0..<each {
                let b = Self.bytes(t, i)
                do {
                    if i % 7 == 0 {
                        let r = try b.withUnsafeBytes { p in try log.append(buffers: [p, p]) }
                        for s in r { mine.append((s, b)) }
                    } else {
                        mine.append((try log.append(b), b))
                    }
                } catch { Issue.record("thread \(t) append \(i): \(error)") }
            }
            return mine
        }
        let all = got.flatMap { $0 }
        #expect(all.count == threads * (each + (each + 6) / 7))
        let numbers = all.map(\.0).sorted()
        #expect(numbers == Array(0..<UInt64(all.count)), "sequence numbers unique and dense")
        #expect(log.nextSequence == UInt64(all.count))
        // Readable at once through the cursor, and after a reopen.
        var cursor = log.cursor()
        var seen = 0
        while let r = try cursor.next() {
            #expect(r.sequence == UInt64(seen))
            seen += 1
        }
        #expect(seen == all.count)
        log.close()
        let again = try DaxLog.open(device: try DaxDevice.open(path), options: .init(creation: .never))
        defer { again.close() }
        let byNumber = Dictionary(uniqueKeysWithValues: try again.records().map { ($0.sequence, $0.bytes) })
        #expect(byNumber.count == all.count)
        #expect(all.allSatisfy { byNumber[$0.0] == $0.1 })
    }

    @Test(arguments: [StoreGranularity.cacheLine, .page])
    func aPowerFailureWhileThreadsAppendLosesNothingAcknowledged(granularity: StoreGranularity) async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        var powerFailures = 0
        for seed in UInt64(1)...24 {
            unlink(path)
            try DaxDevice.createEmulated(at: path, size: 1 << 20).close()
            let simulation = DaxPersistenceSimulation(granularity: granularity, seed: seed, evictionProbability: 0.25)
            let device = try DaxDevice.open(path, options: .init(removalDeadline: .seconds(1), simulation: simulation))
            let simulator = try #require(device.persistenceSimulator)
            let log = try DaxLog.open(device: device)
            // Somewhere in the middle of the appends: the stores and persists of ~4 × 150 appends.
            try simulator.schedulePowerFailure(atPoint: simulator.points + 200 + Int(seed * 97 % 600))
            let got = Self.onThreads(4) { t -> [(UInt64, [UInt8])] in
                var mine: [(UInt64, [UInt8])] = []
                for i in 0..<150 {
                    let b = Self.bytes(t, i)
                    do {
                        if i % 5 == 0 {
                            for s in try log.append(contentsOf: [b, b, b]) { mine.append((s, b)) }
                        } else {
                            mine.append((try log.append(b), b))
                        }
                    } catch { break } // the power failed: this append is not acknowledged
                }
                return mine
            }
            let failure = await simulator.failPower()
            if failure.kind != .request { powerFailures += 1 }
            log.close()
            device.close()
            let acknowledged = got.flatMap { $0 }
            #expect(Set(acknowledged.map(\.0)).count == acknowledged.count, "seed \(seed): unique numbers")
            let again = try DaxLog.open(device: try DaxDevice.open(path, options: .init(readOnly: true)),
                                        options: .init(creation: .never, readOnly: true))
            defer { again.close() }
            let byNumber = Dictionary(uniqueKeysWithValues: try again.records().map { ($0.sequence, $0.bytes) })
            let missing = acknowledged.filter { byNumber[$0.0] != $0.1 }
            #expect(missing.isEmpty, "seed \(seed) \(granularity): \(missing.count) of \(acknowledged.count) acknowledged records lost, first \(missing.first.map { $0.0 } as Any)")
            // A group is one batch of the format: the power cutting it short is a torn
            // tail, never taken for an acknowledged record the media corrupted.
            #expect(again.recovery.lost.isEmpty && again.recovery.corrupted.isEmpty, "seed \(seed): \(again.recovery)")
        }
        #expect(powerFailures > 0, "the power never failed during the appends: the test saw nothing")
    }
}
