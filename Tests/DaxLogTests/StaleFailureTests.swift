import DaxMap
import Glibc
import Testing
@testable import DaxLog

/// A failure belongs to the attachment it was raised for. Holder calls run on
/// daxmap's holder threads, so on a busy machine a notice can reach the log
/// after `reattach()`; these deliver the very failures the device told the
/// log, late, with the new attachment's records at the same offsets.
@Suite struct StaleFailureTests {
    @Test func aRemovedRangeToldAfterReattachMarksNothingWrittenSince() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        let log = try DaxLog.open(device: try DaxDevice.createEmulated(at: path, size: 1 << 20))
        for s in 0..<100 as Range<UInt64> { try log.append(payload(s)) }
        truncate(path, 12288) // real BUS_ADRERR for the next append
        #expect(throws: DaxLogError.self) { try log.append(payload(100)) }
        #expect(await waitUntil(seconds: 20) { log.failuresReceived.contains { $0.kind == .removed } })
        let told = try #require(log.failuresReceived.first { $0.kind == .removed })

        truncate(path, 1 << 20)
        let recovery = try log.reattach()
        let lostByRecovery = log.lostSequences
        #expect(lostByRecovery == recovery.lost && !lostByRecovery.isEmpty)
        // Written after the reattach, at the offsets the truncation had cut away.
        let written = try (0..<50).map { _ in try log.append(payload(log.nextSequence)) }
        #expect(try log.records(from: written[0]).count == written.count)

        // The truncation's notice, run late by a holder thread.
        #expect(await log.notifyFailure(told))
        #expect(log.lostSequences == lostByRecovery, "a notice of the earlier attachment marked \(log.lostSequences)")
        let back = try log.records(from: written[0])
        #expect(back.map(\.sequence) == written)
        #expect(back.allSatisfy { $0.bytes == payload($0.sequence) })
    }

    @Test func aPreRemoveToldAfterReattachDoesNotSealTheNewAttachment() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        _ = try DaxDevice.createEmulated(at: path, size: 1 << 20)
        let device = try DaxDevice.open(path, options: .init(removalDeadline: .seconds(5)))
        let log = try DaxLog.open(device: device)
        for s in 0..<20 as Range<UInt64> { try log.append(payload(s)) }
        _ = await device.beginRemoval()
        #expect(log.state == .sealed)
        let told = try #require(log.failuresReceived.first { $0.kind == .preRemove })

        try log.reattach()
        #expect(try log.append(payload(20)) == 20)
        // The removal's notice, run late by a holder thread: the removal it
        // belonged to is over, and the mapping it named is gone.
        #expect(await log.notifyFailure(told))
        #expect(log.state == .open)
        #expect(try log.append(payload(21)) == 21)
        #expect(try log.records().map(\.sequence) == Array(0..<22))
        log.close()
    }
}
