import CDaxMap
import CDaxMapTesting
import Glibc
import Testing
@testable import DaxMap
import DaxMapTesting

/// The failure vocabulary (FailureCause.swift) and its C mirror
/// (CDaxMapFailure.h): the values agree, the record's layout is what Swift
/// reads, every record shape the handler writes becomes the right cause (real
/// signals: self-sent where the kernel here cannot raise the code, real
/// truncations and traps otherwise), and each audience's kind is derived from it.
@Suite(.serialized) struct FailureVocabularyTests {
    // MARK: - The mirror

    @Test func everyKindHasItsCValueAndEveryCValueAKind() {
        let mirror: [(FailureCause.Kind, CInt)] = [
            (.unexplained, CDAXMAP_FAILED_NONE),
            (.memoryFailureActionRequired, CDAXMAP_FAILED_POISON),
            (.pagesLost, CDAXMAP_FAILED_LOST),
            (.removed, CDAXMAP_FAILED_REMOVED),
            (.memoryFailureActionOptional, CDAXMAP_FAILED_POISON_NOTICE),
            (.revoked, CDAXMAP_FAILED_REVOKED),
            (.preRemove, CDAXMAP_FAILED_PRE_REMOVE),
        ]
        for (kind, c) in mirror { #expect(kind.rawValue == UInt32(c), "\(kind)") }
        #expect(Set(mirror.map(\.0)) == Set(FailureCause.Kind.allCases))
        #expect(FailureCause.Kind.allCases.count == Int(CDAXMAP_FAILED_KINDS))
        for value in 0..<UInt32(CDAXMAP_FAILED_KINDS) { #expect(FailureCause.Kind(rawValue: value) != nil) }
    }

    @Test func theRecordsLayoutIsTheOneTheHandlerWrites() {
        #expect(MemoryLayout<cdaxmap_fault>.size == 80)
        let offsets: [(PartialKeyPath<cdaxmap_fault>, Int)] = [
            (\.sequence, 0), (\.mapping_id, 8), (\.address, 16), (\.range_start, 24), (\.lost_start, 32),
            (\.lost_length, 40), (\.signo, 48), (\.code, 52), (\.addr_lsb, 56), (\.tid, 60), (\.flags, 64),
            (\.failure, 68), (\.epoch, 72),
        ]
        for (path, offset) in offsets { #expect(MemoryLayout<cdaxmap_fault>.offset(of: path) == offset, "\(path)") }
    }

    @Test func aFailureValueThisBuildDoesNotKnowIsUnexplained() {
        var raw = cdaxmap_fault()
        raw.failure = UInt32(CDAXMAP_FAILED_KINDS)
        raw.epoch = 7
        let cause = FailureCause(record: raw)
        #expect(cause.kind == .unexplained)
        #expect(cause.epoch == 7)
    }

    // MARK: - Derived kinds

    @Test func eachAudiencesKindIsDerivedFromTheCause() {
        typealias Row = (DaxFault.Cause, DaxFailure.Kind?, DaxFailedRange.Kind, DaxError.Code, CInt?)
        let expected: [FailureCause.Kind: Row] = [
            .memoryFailureActionRequired: (.memoryFailureActionRequired, .memoryFailureActionRequired, .poison, .mediaFailure, CDAXMAP_FAILED_POISON),
            .memoryFailureActionOptional: (.memoryFailureActionOptional, .memoryFailureActionOptional, .poison, .mediaFailure, CDAXMAP_FAILED_POISON),
            .removed: (.addressError, .removed, .removed, .deviceRemoved, CDAXMAP_FAILED_REMOVED),
            .pagesLost: (.other, .pagesLost, .pagesLost, .deviceRemoved, CDAXMAP_FAILED_LOST),
            .preRemove: (.other, .preRemove, .removed, .deviceGoing, nil),
            .revoked: (.accessAfterRevoke, nil, .removed, .revoked, nil),
            .unexplained: (.other, nil, .removed, .deviceRemoved, nil),
        ]
        #expect(Set(expected.keys) == Set(FailureCause.Kind.allCases))
        for (kind, row) in expected {
            #expect(DaxFault.Cause(kind) == row.0, "\(kind)")
            #expect(DaxFailure.Kind(kind) == row.1, "\(kind)")
            #expect(DaxFailedRange.Kind(kind) == row.2, "\(kind)")
            #expect(kind.errorCode(closed: false) == row.3, "\(kind)")
            #expect(kind.mark == row.4, "\(kind)")
        }
        #expect(FailureCause.Kind.revoked.errorCode(closed: true) == .closed)
        #expect(DaxInjectedFailure.Kind.media.cause == .memoryFailureActionRequired)
        #expect(DaxInjectedFailure.Kind.removed.cause == .removed)
        #expect(FailureCause(removal: .request, epoch: 3).kind == .preRemove)
        #expect(FailureCause(removal: .powerFailure, epoch: 3).kind == .removed)
    }

    @Test func aMarkMeansWhatItWasMarkedAsAndTheRangeTableTakesEveryMark() {
        #expect(cdaxmap_sigbus_install() == 0)
        let length = 8 * pageSize
        let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
        defer { munmap(base, length) }
        let slot = cdaxmap_range_register(base, length, 0xf0ca_b000_0000_0001, CInt(CDAXMAP_POLICY_REPLACE.rawValue), pageSize)
        #expect(slot >= 0)
        defer { cdaxmap_range_unregister(slot) }
        let b = UInt(bitPattern: base)
        for (i, kind) in FailureCause.Kind.allCases.enumerated() {
            guard let mark = kind.mark else { continue }
            let lo = b + UInt(i * pageSize), hi = lo + UInt(pageSize)
            #expect(cdaxmap_range_mark(slot, mark, lo, hi) == 0)
            var flo: UInt = 0, fhi: UInt = 0
            let found = cdaxmap_range_check(slot, lo, hi, &flo, &fhi)
            #expect(found == mark)
            // Read back, the mark lists as the same public kind.
            #expect(DaxFailedRange.Kind(FailureCause(mark: found, epoch: 0).kind) == DaxFailedRange.Kind(kind), "\(kind)")
        }
        #expect(cdaxmap_range_marked_epoch(slot) <= cdaxmap_epoch_now())
    }

    // MARK: - Record shapes, from real signals

    /// Anonymous memory registered as a range: only the signals a test sends reach the handler there.
    private func withRange(_ body: (UnsafeMutableRawPointer, Int) throws -> Void) rethrows {
        #expect(cdaxmap_sigbus_install() == 0)
        _ = cdaxmap_thread_prepare()
        let length = 4 * pageSize
        let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
        defer { munmap(base, length) }
        let slot = cdaxmap_range_register(base, length, 0xf0ca_b000_0000_0002, CInt(CDAXMAP_POLICY_REPLACE.rawValue), pageSize)
        #expect(slot >= 0)
        defer { cdaxmap_range_unregister(slot) }
        try body(base, slot)
    }

    @Test(arguments: [(BUS_MCEERR_AR_, CInt(12), FailureCause.Kind.memoryFailureActionRequired),
                      (BUS_ADRERR_, CInt(0), .removed),
                      (CInt(3), CInt(0), .unexplained)]) // 3: BUS_OBJERR, a code daxmap gives no meaning
    func aGuardedSignalInARangeIsTheCauseItsCodeNames(_ code: CInt, _ lsb: CInt, _ expected: FailureCause.Kind) {
        withRange { base, _ in
            let before = cdaxmap_epoch_now()
            var fault = cdaxmap_fault()
            #expect(cdaxmap_test_raise_sigbus_guarded(code, base + pageSize + 8, lsb, &fault) == -EFAULT)
            #expect(fault.flags & UInt32(CDAXMAP_EVENT_GUARDED) != 0)
            let cause = FailureCause(record: fault)
            #expect(cause.kind == expected)
            #expect(fault.failure == expected.rawValue)
            #expect(cause.epoch >= before && cause.epoch <= cdaxmap_epoch_now()) // stamped as it happened
            #expect(!cause.replaced && !cause.injected && !cause.reconstructed)
        }
    }

    @Test func aSignalInARevokedRangeIsAnAccessAfterRevokeWhateverItsCode() {
        withRange { base, slot in
            cdaxmap_range_set_revoked(slot)
            var fault = cdaxmap_fault()
            #expect(cdaxmap_test_raise_sigbus_guarded(BUS_ADRERR_, base + 8, 0, &fault) == -EFAULT)
            #expect(fault.flags & UInt32(CDAXMAP_EVENT_REVOKED) != 0)
            #expect(FailureCause(record: fault).kind == .revoked)
        }
    }

    @Test func aRealSIGSEGVInARangeIsAnAccessAfterRevoke() {
        withRange { base, _ in
            #expect(mprotect(base, 4 * pageSize, PROT_NONE) == 0) // what revoke and close leave
            var buffer = [UInt8](repeating: 0, count: 64)
            var fault = cdaxmap_fault()
            let r = buffer.withUnsafeMutableBytes { cdaxmap_copy_guarded($0.baseAddress!, base + 100, 64, 0, &fault) }
            #expect(r == -EFAULT)
            #expect(fault.signo == SIGSEGV)
            #expect(FailureCause(record: fault).kind == .revoked)
            #expect(DaxFault.Cause(FailureCause(record: fault).kind) == .accessAfterRevoke)
        }
    }

    @Test func aGuardedAccessWhoseSlotWasFreedIsAnAccessAfterRevoke() {
        #expect(cdaxmap_sigbus_install() == 0)
        _ = cdaxmap_thread_prepare()
        let length = 2 * pageSize
        let base = mmap(nil, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
        defer { munmap(base, length) }
        cdaxmap_range_unregister(cdaxmap_range_register(base, length, 0xf0ca_b000_0000_0003, CInt(CDAXMAP_POLICY_REPLACE.rawValue), pageSize))
        var fault = cdaxmap_fault()
        #expect(cdaxmap_test_guarded_load(base + 10, &fault) == -EFAULT)
        #expect(fault.flags & UInt32(CDAXMAP_EVENT_UNREGISTERED) != 0)
        #expect(FailureCause(record: fault).kind == .revoked)
    }

    /// A 16-page emulated device mapped whole, filled.
    private func device(_ dir: TemporaryDirectory) throws -> (DaxDevice, DaxMapping) {
        let device = try DaxDevice.createEmulated(at: dir.file("dev"), size: UInt64(16 * pageSize))
        let mapping = try device.map()
        try mapping.fill(0x5A, at: 0, count: mapping.count)
        return (device, mapping)
    }

    private func guardedRead(_ mapping: DaxMapping, at offset: Int) -> cdaxmap_fault? {
        var buffer = [UInt8](repeating: 0, count: 64)
        var fault = cdaxmap_fault()
        let r = mapping.withUnsafeBytes { bytes in
            buffer.withUnsafeMutableBytes { cdaxmap_read_guarded($0.baseAddress!, bytes.baseAddress! + offset, 64, &fault) }
        }
        return r == -EFAULT ? fault : nil
    }

    @Test func aRealBusAdrerrAfterATruncationIsRemoved() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (_, mapping) = try device(dir)
        truncateFile(dir.file("dev"), to: 8 * pageSize)
        let fault = try #require(guardedRead(mapping, at: 12 * pageSize))
        #expect(fault.signo == SIGBUS && fault.code == BUS_ADRERR_)
        let cause = FailureCause(record: fault)
        #expect(cause.kind == .removed)
        #expect(mapping.faultError("read", fault).code == .deviceRemoved)
        #expect(mapping.failures.contains { $0.kind == DaxFailedRange.Kind(.removed) })
    }

    @Test func aRealTrapOfInjectedPoisonIsActionRequiredAndInjected() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (device, mapping) = try device(dir)
        try DaxFaultInjector(device).inject(.media, offset: UInt64(3 * pageSize), length: UInt64(pageSize))
        let fault = try #require(guardedRead(mapping, at: 3 * pageSize + 16))
        #expect(fault.code == BUS_ADRERR_) // what the kernel raised: the trap is real
        let cause = FailureCause(record: fault)
        #expect(cause.kind == DaxInjectedFailure.Kind.media.cause)
        #expect(cause.injected)
        let error = mapping.faultError("read", fault)
        #expect(error.code == .mediaFailure)
        #expect(error.offset == UInt64(3 * pageSize) && error.length == UInt64(pageSize))
    }

    @Test func aNoticeThroughTheRingIsActionOptionalAndAnUnguardedFaultSaysItReplaced() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let (device, mapping) = try device(dir)
        let events = device.events()
        _ = mapping.raiseForTesting(code: BUS_MCEERR_AO_, at: 2 * pageSize, addressLSB: 12, guarded: false)
        truncateFile(dir.file("dev"), to: 12 * pageSize)
        let value = mapping.withUnsafeBytes { $0[14 * pageSize] } // real SIGBUS, page replaced
        #expect(value == 0)
        var faults: [DaxFault] = []
        for await event in events {
            if case .fault(let f) = event { faults.append(f) }
            if faults.count == 2 { break }
        }
        #expect(faults.first?.cause == .memoryFailureActionOptional)
        #expect(faults.first?.range == UInt64(2 * pageSize)..<UInt64(3 * pageSize))
        #expect(faults.last?.cause == .addressError)
        #expect(faults.last?.replaced == true)
        #expect(faults.last?.guarded == false)
    }
}
