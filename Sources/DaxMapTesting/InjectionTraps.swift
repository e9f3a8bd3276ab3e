internal import CDaxMap
import DaxMap
import Glibc
internal import DaxMapSync
import SystemPackage

/// The traps of injected failures in this process's mappings: an empty memfd
/// mapped `MAP_FIXED` over each injected page, so the next access is a real
/// SIGBUS `BUS_ADRERR`, and an entry in the handler's injection table
/// (inject.c) that makes the handler report it as the injected kind. Every
/// change of a mapping's traps is made here, under one lock: entries are
/// published before their trap is mapped, and forgotten only after the
/// device's page is back.
///
/// One per process, as the handler's table is: installed into DaxMap as its
/// `DaxMap/EmulatedFailureHook` (by the loader when the process starts, or
/// by the first injector), so an emulated device's open, map, badblocks and
/// clear meet what was injected.
final class InjectionTraps: EmulatedFailureHook {
    /// The process's traps: DaxMap's emulated-failure hook.
    static var current: InjectionTraps {
        guard let traps = EmulatedFailures.current(installingIfNone: { InjectionTraps() }) as? InjectionTraps else {
            preconditionFailure("another emulated-failure hook is installed")
        }
        return traps
    }

    struct Armed {
        var entry: Int
        var range: Range<UInt64>
        var kind: DaxInjectedFailure.Kind
    }

    /// Mapping id → its armed traps.
    private let armed = Locked<[UInt64: [Armed]]>([:])

    // MARK: - EmulatedFailureHook

    func validate(devicePath path: String) throws(DaxError) {
        _ = try InjectionSidecar(devicePath: path).load(operation: "open")
    }

    func injected(devicePath path: String) -> [Range<UInt64>] {
        ((try? InjectionSidecar(devicePath: path).load(operation: "badblocks"))?.failures ?? []).map(\.range)
    }

    func clear(_ device: DaxDevice, _ range: Range<UInt64>) throws(DaxError) -> [Range<UInt64>] {
        try DaxFaultInjector(device).clear(offset: range.lowerBound, length: UInt64(range.count)).map(\.range)
    }

    // MARK: - Traps

    /// Arms a new mapping of an emulated device with what its sidecar records.
    func arm(_ mapping: DaxMapping) throws(DaxError) {
        let ranges = try InjectionSidecar(devicePath: mapping.device.path).load(operation: "map")
        guard !ranges.clamped(to: mapping.deviceRange).isEmpty else { return }
        try sync(mapping, with: ranges)
    }

    /// Brings the traps of every open mapping of the device's file in this
    /// process (whichever `DaxDevice` mapped it) in line with `ranges`.
    func syncAll(_ device: DaxDevice, with ranges: InjectedRanges) throws(DaxError) {
        for mapping in DaxRuntime.process.registry.allMappings() where mapping.device.hasSameFile(as: device) {
            try sync(mapping, with: ranges)
        }
    }

    /// Traps of `mapping` now (for tests and diagnostics).
    func traps(of mapping: DaxMapping) -> [Armed] { armed.withLock { $0[mapping.id] ?? [] } }

    private func sync(_ mapping: DaxMapping, with ranges: InjectedRanges) throws(DaxError) {
        try armed.withLock { (all: inout [UInt64: [Armed]]) throws(DaxError) in
            purge(&all)
            let old = all[mapping.id] ?? []
            guard mapping.isUsable else { return }
            let desired = ranges.clamped(to: mapping.deviceRange)
            var now: [Armed] = []
            defer { all[mapping.id] = now.isEmpty ? nil : now }
            for failure in desired {
                let (lo, hi) = addresses(mapping, failure.range)
                let kind = failure.kind.cause.mark ?? 0 // 0: refused by cdaxmap_inject_add
                var entry = cdaxmap_inject_add(mapping.id, lo, hi, kind)
                if entry == -Int(ENOSPC) {
                    purge(&all)
                    entry = cdaxmap_inject_add(mapping.id, lo, hi, kind)
                }
                guard entry >= 0 else {
                    now += old // still armed: forget nothing
                    throw DaxError(.tooManyMappings, operation: "inject", path: mapping.device.path,
                                   offset: failure.range.lowerBound, length: UInt64(failure.range.count),
                                   message: "the injection table is full (\(CDAXMAP_INJECT_CAPACITY) injected ranges over all mappings); clear injected failures or close mappings")
                }
                now.append(Armed(entry: entry, range: failure.range, kind: failure.kind))
                if let errno = mapTrap(mapping, failure.range) {
                    now += old
                    throw DaxError(.system, operation: "inject", path: mapping.device.path, offset: failure.range.lowerBound,
                                   length: UInt64(failure.range.count), errno: errno,
                                   message: "cannot map the trap page over the mapping")
                }
            }
            // What is no longer injected gets the device's pages back, then its entries go.
            let kept = desired.map(\.range)
            for trap in old {
                var restored = true
                for piece in DaxMapInternals.uncovered(trap.range, by: kept) where !restore(mapping, piece) { restored = false }
                if restored { cdaxmap_inject_remove(trap.entry) } else { now.append(trap) }
            }
            if !mapping.isUsable { reserve(mapping) } // closed or revoked meanwhile: keep it PROT_NONE
        }
    }

    /// Forgets the traps of mappings that are gone (closed, revoked, deinitialised):
    /// their addresses are a reservation or unmapped, and ids are never reused.
    private func purge(_ all: inout [UInt64: [Armed]]) {
        for (id, traps) in all where DaxRuntime.process.registry.mapping(id)?.isUsable != true {
            for trap in traps { cdaxmap_inject_remove(trap.entry) }
            all.removeValue(forKey: id)
        }
    }

    private func addresses(_ mapping: DaxMapping, _ range: Range<UInt64>) -> (UInt, UInt) {
        let base = UInt(bitPattern: mapping.base.pointer)
        return (base + UInt(range.lowerBound - mapping.offset), base + UInt(range.upperBound - mapping.offset))
    }

    private func protection(_ mapping: DaxMapping) -> CInt {
        mapping.options.readOnly || mapping.device.openedReadOnly ? PROT_READ : PROT_READ | PROT_WRITE
    }

    private func mapTrap(_ mapping: DaxMapping, _ range: Range<UInt64>) -> Errno? {
        let fd = cdaxmap_inject_trap_fd()
        guard fd >= 0 else { return Errno(rawValue: -fd) }
        let (lo, _) = addresses(mapping, range)
        switch Syscalls.mmap(UnsafeMutableRawPointer(bitPattern: lo), range.count, protection(mapping),
                             MAP_SHARED | MAP_FIXED, fd, 0) {
        case .success: return nil
        case .failure(let errno): return errno
        }
    }

    /// Maps the device's pages back over `range` of the mapping.
    private func restore(_ mapping: DaxMapping, _ range: Range<UInt64>) -> Bool {
        guard !range.isEmpty else { return true }
        // A descriptor of our own: the device's state lock is held by map() while
        // it arms a mapping (under this object's lock), so taking it here could deadlock.
        let flags = protection(mapping) == PROT_READ ? O_RDONLY : O_RDWR
        guard case .success(let fd) = Syscalls.open(mapping.device.path, flags) else { return false }
        defer { Syscalls.close(fd) }
        guard case .success(let st) = Syscalls.status(of: fd), mapping.device.isFile(st) else { return false } // not the file we mapped
        let (lo, _) = addresses(mapping, range)
        if case .success = Syscalls.mmap(UnsafeMutableRawPointer(bitPattern: lo), range.count, protection(mapping),
                                         MAP_SHARED | MAP_FIXED, fd, Int(range.lowerBound)) {
            return true
        }
        return false
    }

    private func reserve(_ mapping: DaxMapping) {
        // MAP_FIXED over the mapping's own range fails only for lack of memory; the
        // range then keeps what restore mapped, and the closed mapping's API refuses
        // every access anyway (only a raw pointer kept past close would reach it).
        _ = Syscalls.mmap(mapping.base.pointer, mapping.count, PROT_NONE,
                          MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
    }
}
