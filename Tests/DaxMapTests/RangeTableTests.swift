import CDaxMap
import CDaxMapTesting
import Glibc
import Testing
@testable import DaxMap
import DaxMapTesting

/// The handler's range table: consistent lookups while slots are reused,
/// failed extents that coalesce and overflow, per-slot fault counts, and
/// guarded accesses whose range has left the table.
@Suite(.serialized) struct RangeTableTests {
    private static let actionRequired: CInt = 4 // BUS_MCEERR_AR

    /// Anonymous memory registered as a range with mapping id `id`: it never
    /// faults by itself, so only the signals a test sends reach the handler.
    private func withRange(pages: Int, id: UInt64, _ body: (UnsafeMutableRawPointer, Int) throws -> Void) rethrows {
        #expect(cdaxmap_sigbus_install() == 0)
        _ = cdaxmap_thread_prepare()
        let length = pages * pageSize
        let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
        defer { munmap(base, length) }
        let slot = cdaxmap_range_register(base, length, id, CInt(CDAXMAP_POLICY_REPLACE.rawValue), pageSize)
        #expect(slot >= 0)
        defer { cdaxmap_range_unregister(slot) }
        try body(base, slot)
    }

    private func extents(_ slot: Int) -> (total: Int, list: [(kind: CInt, lo: UInt, hi: UInt)]) {
        let capacity = Int(CDAXMAP_FAILED_CAPACITY)
        var kinds = [CInt](repeating: 0, count: capacity)
        var los = [UInt](repeating: 0, count: capacity), his = [UInt](repeating: 0, count: capacity)
        let total = cdaxmap_range_failed(slot, &kinds, &los, &his, capacity)
        return (total, (0..<min(total, capacity)).map { (kinds[$0], los[$0], his[$0]) })
    }

    @Test func aSlotReusedDuringALookupNeverNamesTheOtherMapping() {
        var lookups: UInt64 = 0, cycles: UInt64 = 0
        let wrong = cdaxmap_test_aba_stress(2000, &lookups, &cycles)
        #expect(wrong == 0, "\(wrong) of \(lookups) lookups of an address in range A named mapping B (\(cycles) cycles)")
        #expect(lookups > 0 && cycles > 0)
    }

    @Test func extentsOfOneKindThatTouchOrOverlapCoalesce() {
        withRange(pages: 32, id: 0x7ab1e00000000001) { base, slot in
            let b = UInt(bitPattern: base), p = UInt(pageSize)
            #expect(cdaxmap_range_mark(slot, CDAXMAP_FAILED_POISON, b + 4 * p, b + 5 * p) == 0)
            #expect(cdaxmap_range_mark(slot, CDAXMAP_FAILED_POISON, b + 5 * p, b + 6 * p) == 0) // touches
            #expect(cdaxmap_range_mark(slot, CDAXMAP_FAILED_POISON, b + 3 * p, b + 4 * p + 10) == 0) // overlaps
            #expect(cdaxmap_range_mark(slot, CDAXMAP_FAILED_LOST, b + 6 * p, b + 7 * p) == 0) // another kind
            #expect(cdaxmap_range_mark(slot, CDAXMAP_FAILED_POISON, b + 10 * p, b + 11 * p) == 0) // apart
            // Clamped to the range.
            #expect(cdaxmap_range_mark(slot, CDAXMAP_FAILED_REMOVED, b + 30 * p, b + 64 * p) == 0)
            let (total, list) = extents(slot)
            #expect(total == 4)
            #expect(list.contains { $0 == (CDAXMAP_FAILED_POISON, b + 3 * p, b + 6 * p) })
            #expect(list.contains { $0 == (CDAXMAP_FAILED_LOST, b + 6 * p, b + 7 * p) })
            #expect(list.contains { $0 == (CDAXMAP_FAILED_POISON, b + 10 * p, b + 11 * p) })
            #expect(list.contains { $0 == (CDAXMAP_FAILED_REMOVED, b + 30 * p, b + 32 * p) })
            var lo: UInt = 0, hi: UInt = 0
            #expect(cdaxmap_range_check(slot, b + 5 * p + 1, b + 5 * p + 2, &lo, &hi) == CDAXMAP_FAILED_POISON)
            #expect(lo == b + 3 * p && hi == b + 6 * p)
            #expect(cdaxmap_range_check(slot, b + 7 * p, b + 10 * p, &lo, &hi) == 0)
            #expect(cdaxmap_range_overflowed(slot) == 0)
            // Asked with less room, it still says how many there are.
            var k: CInt = 0, l: UInt = 0, h: UInt = 0
            #expect(cdaxmap_range_failed(slot, &k, &l, &h, 1) == 4)
        }
    }

    @Test func pastCapacityDistinctPoisonMakesTheWholeRangeFailed() {
        let capacity = Int(CDAXMAP_FAILED_CAPACITY)
        let pages = 2 * (capacity + 1) + 2
        withRange(pages: pages, id: 0x7ab1e00000000002) { base, slot in
            let b = UInt(bitPattern: base), p = UInt(pageSize)
            // Self-sent BUS_MCEERR_AR, si_addr_lsb 12, at every other page: distinct extents.
            var caught = 0
            for i in 0...capacity {
                var fault = cdaxmap_fault()
                if cdaxmap_test_raise_sigbus_guarded(Self.actionRequired, base + 2 * i * pageSize + 8, 12, &fault) == -EFAULT {
                    caught += 1
                }
                if i == capacity - 1 { #expect(cdaxmap_range_overflowed(slot) == 0) }
            }
            #expect(caught == capacity + 1)
            #expect(cdaxmap_range_faults(slot) == UInt64(capacity + 1))
            #expect(cdaxmap_range_overflowed(slot) == CDAXMAP_FAILED_POISON)
            #expect(extents(slot).total == capacity)
            // A page that never failed is reported failed now, with the whole range.
            var lo: UInt = 0, hi: UInt = 0
            let clean = b + UInt(2 * capacity + 3) * p
            #expect(cdaxmap_range_check(slot, clean, clean + 1, &lo, &hi) == CDAXMAP_FAILED_POISON)
            #expect(lo == b && hi == b + UInt(pages) * p)
            #expect(cdaxmap_range_mark(slot, CDAXMAP_FAILED_LOST, clean, clean + p) == -ENOSPC)
        }
    }

    @Test func faultsAreCountedPerSlotAndResetWhenTheSlotIsRegisteredAgain() {
        #expect(cdaxmap_sigbus_install() == 0)
        _ = cdaxmap_thread_prepare()
        let length = 8 * pageSize
        let memory = mmap(nil, 2 * length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
        defer { munmap(memory, 2 * length) }
        let first = memory, second = memory + length
        let policy = CInt(CDAXMAP_POLICY_REPLACE.rawValue)
        let slot = cdaxmap_range_register(first, length, 0x7ab1e00000000003, policy, pageSize)
        for i in 0..<3 {
            var fault = cdaxmap_fault()
            #expect(cdaxmap_test_raise_sigbus_guarded(Self.actionRequired, first + i * pageSize, 12, &fault) == -EFAULT)
            #expect(fault.mapping_id == 0x7ab1e00000000003)
        }
        #expect(cdaxmap_range_faults(slot) == 3)
        #expect(extents(slot).total == 1) // three adjacent pages: one extent
        cdaxmap_range_unregister(slot)
        cdaxmap_range_unregister(slot) // idempotent: the slot is free, nothing happens
        #expect(cdaxmap_range_owner(first) == 0)
        let again = cdaxmap_range_register(second, length, 0x7ab1e00000000004, policy, pageSize)
        #expect(again >= 0)
        #expect(cdaxmap_range_faults(again) == 0)
        #expect(extents(again).total == 0)
        #expect(cdaxmap_range_owner(second) == 0x7ab1e00000000004)
        cdaxmap_range_unregister(again)
        #expect(cdaxmap_range_owner(second) == 0)
    }

    @Test func aGuardedAccessToARangeThatLeftTheTableIsCaughtAsUnregistered() {
        #expect(cdaxmap_sigbus_install() == 0)
        _ = cdaxmap_thread_prepare()
        let length = 4 * pageSize
        let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
        defer { munmap(base, length) }
        let slot = cdaxmap_range_register(base, length, 0x7ab1e00000000005, CInt(CDAXMAP_POLICY_REPLACE.rawValue), pageSize)
        cdaxmap_range_unregister(slot)
        #expect(mprotect(base, length, PROT_NONE) == 0) // closed: a reservation until deinit
        let chained = cdaxmap_events_chained()
        var buffer = [UInt8](repeating: 0, count: 100)
        var fault = cdaxmap_fault()
        let r = buffer.withUnsafeMutableBytes { cdaxmap_copy_guarded($0.baseAddress!, base + 10, 100, 0, &fault) }
        #expect(r == -EFAULT)
        #expect(fault.flags & UInt32(CDAXMAP_EVENT_UNREGISTERED) != 0)
        #expect(fault.mapping_id == 0)
        #expect(fault.signo == SIGSEGV)
        #expect(Int(fault.address) - Int(bitPattern: base) == 10)
        // The sigsetjmp guard path (cdaxmap_call_guarded) too.
        fault = cdaxmap_fault()
        #expect(cdaxmap_test_guarded_load(base + 2 * pageSize, &fault) == -EFAULT)
        #expect(fault.flags & UInt32(CDAXMAP_EVENT_UNREGISTERED) != 0)
        #expect(fault.mapping_id == 0)
        #expect(Int(fault.address) - Int(bitPattern: base) == 2 * pageSize)
        #expect(cdaxmap_events_chained() == chained) // nothing handed on
    }

    @Test func aGuardedCopyRacingCloseNeverCrashes() {
        var unregistered = 0
        let wrong = cdaxmap_test_close_race(200, &unregistered)
        #expect(wrong == 0)
        #expect(unregistered > 0) // the slot-first order reaches the unregistered path
    }

    @Test func truncationLeavesOneRemovedExtentFromTheFirstFaultingPageToTheEnd() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        _ = try DaxDevice.createEmulated(at: path, size: UInt64(16 * pageSize))
        let device = try DaxDevice.open(path)
        let mapping = try device.map()
        try [UInt8](repeating: 5, count: 16 * pageSize).withUnsafeBytes { try mapping.write($0, at: 0) }
        // The handler alone: the monitor would re-derive the whole tail from the file size.
        DaxMapTestHooks.pauseDrains()
        var paused = true
        defer { if paused { DaxMapTestHooks.resumeDrains() } }
        truncateFile(path, to: 4 * pageSize)
        let faultsBefore = cdaxmap_range_faults(mapping.slot)
        let pages = [12, 14, 15, 8, 13, 6, 9]
        let (results, base) = mapping.withUnsafeMutableBytes { bytes in
            var buffer = [UInt8](repeating: 0, count: 64)
            let results = pages.map { page in
                var fault = cdaxmap_fault()
                return buffer.withUnsafeMutableBytes {
                    cdaxmap_copy_guarded($0.baseAddress!, bytes.baseAddress! + page * pageSize + 100, 64, 0, &fault)
                }
            }
            return (results, UInt(bitPattern: bytes.baseAddress!))
        }
        #expect(results.allSatisfy { $0 == -EFAULT })
        #expect(cdaxmap_range_faults(mapping.slot) - faultsBefore == UInt64(pages.count))
        let (total, list) = extents(mapping.slot)
        #expect(total == 1, "\(list)")
        #expect(list.first?.kind == CDAXMAP_FAILED_REMOVED)
        #expect(list.first?.lo == base + UInt(6 * pageSize))
        #expect(list.first?.hi == base + UInt(16 * pageSize))
        // A guarded read below it faults and extends it down; the data before EOF is intact.
        var b = [UInt8](repeating: 0, count: 8)
        let error = #expect(throws: DaxError.self) { try b.withUnsafeMutableBytes { try mapping.read(at: 5 * pageSize, into: $0) } }
        #expect(error?.code == .deviceRemoved)
        #expect(extents(mapping.slot).list.map(\.lo) == [base + UInt(5 * pageSize)])
        try b.withUnsafeMutableBytes { try mapping.read(at: 3 * pageSize, into: $0) }
        #expect(b.allSatisfy { $0 == 5 })
        // Then the monitor: the tail from the file's new size, one extent still.
        DaxMapTestHooks.resumeDrains()
        paused = false
        let whole = await waitUntil(seconds: 20) { extents(mapping.slot).list.map(\.lo) == [base + UInt(4 * pageSize)] }
        #expect(whole, "\(extents(mapping.slot).list)")
    }

    // Closed mappings never block new ones (in this serialized suite: it fills the
    // process-wide table for a moment, which the C-level tests here register in directly); the oldest give their
    // range-table slot back when the table is full, the newest keep theirs.
    @Test func closedMappingsDoNotFillTheRangeTable() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("dev")
        _ = try DaxDevice.createEmulated(at: path, size: UInt64(pageSize))
        let device = try DaxDevice.open(path)
        var kept: [DaxMapping] = []
        for _ in 0..<(Int(CDAXMAP_RANGE_CAPACITY) + 500) {
            let m = try device.map()
            m.close()
            kept.append(m) // still referenced: the reservation lives until deinit
        }
        var b = [UInt8](repeating: 0, count: 8)
        let error = #expect(throws: DaxError.self) { try b.withUnsafeMutableBytes { try kept[0].read(at: 0, into: $0) } }
        #expect(error?.code == .closed)
        #expect(DaxMapTestHooks.registeredMapping(at: kept[0].base.pointer) == nil)
        #expect(DaxMapTestHooks.registeredMapping(at: kept.last!.base.pointer) == kept.last!.id)
        // The newest closed one still absorbs a raw access racing its close.
        #expect(kept.last!.withUnsafeMutableBytes { $0[0] } == 0)
    }
}
