import DaxMap
import Glibc
import Testing
@testable import DaxLog

/// The log as a holder: real faults, a removal mid-append, reattaching.
@Suite struct DaxLogFaultTests {
    @Test func aTruncationUnderTheLogMarksItsRecordsLostAndReattachContinuesWithoutReusingNumbers() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let log = try DaxLog.open(device: try DaxDevice.createEmulated(at: path, size: 1 << 20))
        for s in 0..<100 as Range<UInt64> { try log.append(payload(s)) }
        // The memory under the log's records from 12 KiB on goes away (real BUS_ADRERR).
        truncate(path, 12288)
        do {
            try log.append(payload(100))
            Issue.record("an append past the end of the file was acknowledged")
        } catch {
            #expect(error.code == .failed && error.underlying?.code == .deviceRemoved, "\(error)")
        }
        #expect(log.state == .failed)
        #expect(!log.lostSequences.isEmpty, "the failing append marked what the cut took")
        #expect(await waitUntil(seconds: 20) { log.failuresReceived.contains { $0.kind == .removed } }, "the log was told of the removed range")
        let marked = log.lostSequences
        #expect(marked.count == 1 && marked[0].upperBound == 100, "\(marked)")

        // The device comes back (zeros where the memory was).
        truncate(path, 1 << 20)
        let recovery = try log.reattach()
        let firstLost = marked[0].lowerBound
        #expect(firstLost > 0)
        #expect(recovery.lost == [firstLost..<100], "\(recovery)")
        #expect(recovery.nextSequence == 100)
        #expect(log.state == .open)
        #expect(try log.append(payload(100)) == 100, "numbers of lost records are never reused")
        log.close()

        // A later open still knows what was lost: the gap is on the media.
        let again = try DaxLog.open(device: try DaxDevice.open(path), options: .init(creation: .never))
        #expect(again.recovery.lost == [firstLost..<100])
        #expect(try again.records().map(\.sequence) == Array(0..<firstLost) + [100])
        #expect(try again.records().allSatisfy { $0.bytes == payload($0.sequence) })
    }

    @Test func preRemoveSealsAndReleasesThenReattachContinues() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        _ = try DaxDevice.createEmulated(at: path, size: 4 << 20)
        let device = try DaxDevice.open(path, options: .init(removalDeadline: .seconds(5)))
        let log = try DaxLog.open(device: device)
        // An appender keeps going while the removal happens. It sleeps between
        // appends: a task that loops without suspending holds a thread of the
        // cooperative pool, and the removal's caller (this test) needs one too.
        let appender = Task.detached { () -> [UInt64] in
            var acked: [UInt64] = []
            while true {
                do throws(DaxLogError) { acked.append(try log.append(payload(log.nextSequence))) } catch {
                    #expect(error.code == .sealed, "\(error)")
                    return acked
                }
                try? await Task.sleep(for: .microseconds(20))
            }
        }
        _ = await waitUntil(seconds: 10) { log.nextSequence > 20 }
        let report = await device.beginRemoval()
        let acked = await appender.value
        #expect(report.mappingsReleased == 1 && report.mappingsRevoked == 0, "\(report)")
        #expect(log.state == .sealed)
        #expect(log.failuresReceived.map(\.kind) == [.preRemove])
        #expect(!acked.isEmpty && acked == Array(0..<UInt64(acked.count)))

        let recovery = try log.reattach()
        #expect(recovery.lost.isEmpty && recovery.nextSequence == UInt64(acked.count), "\(recovery)")
        #expect(try log.append([7]) == UInt64(acked.count))
        let records = try log.records()
        #expect(records.count == acked.count + 1)
        #expect(records.dropLast().allSatisfy { $0.bytes == payload($0.sequence) })
    }

    @Test func aGuardedReadOfAReleasedLogIsATypedError() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let log = try DaxLog.open(device: try DaxDevice.createEmulated(at: dir.file("dev"), size: 1 << 20))
        try log.append([1, 2, 3])
        log.close()
        #expect(throws: DaxLogError.self) { try log.records() }
        do { try log.append([1]) } catch { #expect(error.code == .closed) }
    }
}
