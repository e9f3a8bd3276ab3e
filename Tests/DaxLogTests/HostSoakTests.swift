import DaxMap
import DaxMapSync
import Glibc
import Testing
@testable import DaxLog

/// The soak on the host, on an emulated device: cycles rotating a real
/// truncation (`BUS_ADRERR`) under three concurrent appenders, a requested
/// removal mid-append, and a close and reopen. After every cycle each
/// acknowledged record reads back with its bytes or is reported lost by
/// number, only a truncation loses any, and no descriptor of the device is
/// left open. `DAXMAP_HOST_SOAK_CYCLES` sets the cycles (default 24); `make
/// tsan` and `make asan` run it too.
@Suite struct HostSoakTests {
    static var cycles: Int {
        guard let v = getenv("DAXMAP_HOST_SOAK_CYCLES"), let n = Int(String(cString: v)), n > 0 else { return 24 }
        return n
    }

    static func bytes(_ cycle: Int, _ writer: Int, _ k: Int) -> [UInt8] {
        let n = 1 + (cycle &* 131 &+ writer &* 31 &+ k &* 17) % 400
        return (0..<n).map { UInt8(truncatingIfNeeded: $0 &+ cycle &* 7 &+ writer &* 13 &+ k) }
    }

    /// Descriptors of this process open on `path` (others' tests run alongside: only ours count).
    static func descriptors(on path: String) -> Int {
        guard let dir = opendir("/proc/self/fd") else { return -1 }
        defer { closedir(dir) }
        var n = 0
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            var target = [CChar](repeating: 0, count: 4096)
            let len = readlink("/proc/self/fd/" + name, &target, target.count - 1)
            if len > 0 && String(decoding: target[0..<len].map { UInt8(bitPattern: $0) }, as: UTF8.self) == path { n += 1 }
        }
        return n
    }

    @Test func cyclesOfTruncationsRemovalsAndReopensLoseOnlyWhatTheFailureHit() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("soak dev")
        let size: UInt64 = 1 << 20
        var log = try DaxLog.open(device: try DaxDevice.createEmulated(at: path, size: size))
        var lostTotal = 0, ackedTotal = 0
        for cycle in 0..<Self.cycles {
            let kind = cycle % 3
            let current = log
            let writes = Locked<[(sequence: UInt64, bytes: [UInt8])]>([])
            // Detached: appenders that never suspend would hold the cooperative pool.
            let appenders = (0..<3).map { w in
                Task.detached {
                    for k in 0..<200 {
                        let b = Self.bytes(cycle, w, k)
                        do throws(DaxLogError) {
                            let s = try current.append(b)
                            writes.withLock { $0.append((s, b)) }
                        } catch { return }
                        if k % 8 == 0 { try? await Task.sleep(for: .microseconds(50)) }
                    }
                }
            }
            _ = await waitUntil(seconds: 10) { writes.withLock { $0.count } >= 150 }
            switch kind {
            case 0: truncate(path, 256 << 10) // the memory past 256 KiB goes (real BUS_ADRERR)
            case 1: _ = await current.device.beginRemoval(deadline: .milliseconds(500))
            default: break
            }
            for a in appenders { await a.value }
            switch kind {
            case 0:
                truncate(path, off_t(size))
                _ = try log.reattach()
            case 1:
                #expect(log.state == .sealed, "cycle \(cycle): the removal sealed the log")
                _ = try log.reattach()
            default:
                log.close()
                log = try DaxLog.open(device: try DaxDevice.open(path), options: .init(creation: .never))
            }
            let lost = Set(log.lostSequences.flatMap { Array($0) })
            var back: [UInt64: [UInt8]] = [:]
            for r in try log.records(from: log.firstSequence) { back[r.sequence] = r.bytes }
            let acked = writes.withLock { $0 }
            #expect(!acked.isEmpty, "cycle \(cycle): nothing was acknowledged")
            for w in acked {
                if let got = back[w.sequence] {
                    #expect(got == w.bytes, "cycle \(cycle): record \(w.sequence) came back changed")
                } else {
                    #expect(lost.contains(w.sequence), "cycle \(cycle): acknowledged record \(w.sequence) neither came back nor was reported lost")
                }
            }
            if kind != 0 { #expect(lost.isEmpty, "cycle \(cycle) (\(kind == 1 ? "removal" : "reopen")) lost \(lost.sorted())") }
            lostTotal += acked.filter { lost.contains($0.sequence) }.count
            ackedTotal += acked.count
            #expect(try log.append([UInt8(cycle & 0xFF)]) == log.nextSequence - 1, "cycle \(cycle): appends go on")
            // A checkpoint: the next cycle starts from an empty log, somewhere else on the circle.
            try log.discard(upTo: log.nextSequence)
        }
        log.close()
        log.device.close() // the device is the caller's to close; every earlier one is gone already
        #expect(Self.descriptors(on: path) == 0, "descriptors of the device left open")
        #expect(ackedTotal > 0)
        print("host soak: \(Self.cycles) cycles, \(ackedTotal) records acknowledged, \(lostTotal) lost to truncations (reported by number)")
    }
}
