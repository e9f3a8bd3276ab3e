import DaxMap
import DaxMapSync
import Glibc
import Synchronization
import Testing
@testable import DaxLog

/// A storage service's rotation, on a busy machine: three appender threads on
/// one log while the service alternates a real truncation of the backing file
/// (`BUS_ADRERR`; regrown, then `reattach()`) and a planned removal
/// (`beginRemoval(deadline: 500 ms)`, then `reattach()`), with three threads
/// spinning beside it for the whole test. Each cycle: every acknowledged
/// record reads back with its bytes or is reported lost by number; a removal
/// loses nothing; a truncation loses nothing before the first record it cut;
/// a reattached log takes appends at once. Late notices of an earlier cycle
/// land in a later one, which is where a failure applied to the wrong
/// attachment shows. `DAXLOG_ROTATION_REMOVALS` sets the removals (default 60).
@Suite struct RotationUnderLoadTests {
    static var removals: Int {
        guard let v = getenv("DAXLOG_ROTATION_REMOVALS"), let n = Int(String(cString: v)), n > 0 else { return 60 }
        return n
    }

    static func bytes(_ cycle: Int, _ writer: Int, _ k: Int) -> [UInt8] {
        let n = 1 + (cycle &* 97 &+ writer &* 31 &+ k &* 13) % 300
        return (0..<n).map { UInt8(truncatingIfNeeded: $0 &+ cycle &* 5 &+ writer &* 11 &+ k) }
    }

    @Test func rotatingTruncationsAndRemovalsUnderLoadLosesNothingAcknowledgedAfterAReattach() async throws {
        let spinning = Atomic<Bool>(true)
        let spinners = (0..<3).map { _ in startThread { while spinning.load(ordering: .relaxed) {} } }
        defer {
            spinning.store(false, ordering: .relaxed)
            for t in spinners { pthread_join(t, nil) }
        }
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("rotation dev")
        // The cut is near the start: after each truncation the log goes on there, so every
        // removal cycle writes at offsets the previous truncation's notice names.
        let size: UInt64 = 1 << 20, cut: UInt64 = 16 << 10
        let log = try DaxLog.open(device: try DaxDevice.createEmulated(at: path, size: size))
        var acknowledged = 0, lostToTruncations = 0
        for cycle in 0..<(2 * Self.removals) {
            let removal = cycle % 2 == 1
            let what = "cycle \(cycle) (\(removal ? "removal" : "truncation"))"
            #expect(log.lostSequences.isEmpty, "\(what): starts with \(log.lostSequences) lost")
            let writes = Locked<[(sequence: UInt64, bytes: [UInt8])]>([])
            let errors = Locked<[DaxLogError]>([])
            let finished = Atomic<Int>(0)
            let appenders = (0..<3).map { w in
                startThread {
                    defer { finished.add(1, ordering: .releasing) }
                    for k in 0..<30 {
                        let b = Self.bytes(cycle, w, k)
                        do throws(DaxLogError) {
                            let s = try log.append(b)
                            writes.withLock { $0.append((s, b)) }
                        } catch {
                            errors.withLock { $0.append(error) }
                            return
                        }
                        if k % 4 == 0 { usleep(100) }
                    }
                }
            }
            _ = await waitUntil(seconds: 20) { writes.withLock { $0.count } >= 20 || finished.load(ordering: .acquiring) == 3 }
            if removal {
                _ = await log.device.beginRemoval(deadline: .milliseconds(500))
            } else {
                truncate(path, off_t(cut)) // the memory past 16 KiB goes (real BUS_ADRERR)
            }
            _ = await waitUntil(seconds: 60) { finished.load(ordering: .acquiring) == 3 }
            for t in appenders { pthread_join(t, nil) }
            // Where each acknowledged record was, before the reattach rescans.
            let placed = log.core.withLock { c in
                c.entries.map { (sequence: $0.sequence, start: log.dataDeviceOffset + $0.position % UInt64(log.capacity), size: $0.size) }
            }
            if !removal { truncate(path, off_t(size)) }
            try log.reattach()
            for e in errors.withLock({ $0 }) {
                // A removal's notice told late must not seal a later attachment: a truncation only fails appends.
                #expect(removal ? [.sealed, .failed].contains(e.code) : e.code == .failed, "\(what): append threw \(e)")
            }
            let marker = try log.append([UInt8(cycle & 0xFF)]) // the reattached log takes appends at once
            let lost = Set(log.lostSequences.flatMap { Array($0) })
            var back: [UInt64: [UInt8]] = [:]
            for r in try log.records(from: log.firstSequence) { back[r.sequence] = r.bytes }
            let acked = writes.withLock { $0 }
            #expect(!acked.isEmpty, "\(what): nothing was acknowledged")
            for w in acked {
                if let got = back[w.sequence] {
                    #expect(got == w.bytes, "\(what): record \(w.sequence) came back changed")
                } else {
                    #expect(lost.contains(w.sequence), "\(what): acknowledged record \(w.sequence) neither came back nor was reported lost")
                }
            }
            #expect(back[marker] == [UInt8(cycle & 0xFF)] && !lost.contains(marker), "\(what): the record after the reattach")
            if removal {
                #expect(lost.isEmpty, "\(what) lost \(lost.sorted())")
            } else {
                // The chain breaks at the first record the cut reached; nothing before it is lost.
                let firstCut = placed.first { $0.start + UInt64($0.size) > cut }?.sequence ?? .max
                let early = lost.filter { $0 < firstCut }.sorted()
                #expect(early.isEmpty, "\(what): lost \(early), before the first record the truncation cut (\(firstCut))")
            }
            acknowledged += acked.count
            lostToTruncations += removal ? 0 : acked.filter { lost.contains($0.sequence) }.count
            // A checkpoint: the next cycle starts from an empty log, somewhere else on the circle.
            try log.discard(upTo: log.nextSequence)
        }
        log.close()
        log.device.close()
        print("rotation: \(Self.removals) removals and \(Self.removals) truncations beside 3 busy threads, \(acknowledged) records acknowledged, \(lostToTruncations) lost to truncations (reported by number)")
    }
}

/// A plain pthread: the appenders and the busy loops are threads, as in a service.
final class ThreadBody: @unchecked Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    var thread = pthread_t()
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    let rc = pthread_create(&thread, nil, { arg in
        Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue().body()
        return nil
    }, box)
    precondition(rc == 0, "pthread_create: \(rc)")
    return thread
}
