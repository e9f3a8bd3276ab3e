internal import CDaxMap
import Glibc
import Synchronization
import SystemPackage

extension DaxDevice {
    /// Maps `length` bytes from device offset `offset` (the whole device by default).
    ///
    /// Device-dax rules apply to every kind: the mapping is shared, offset and
    /// length are multiples of ``alignment``, and the virtual address is aligned
    /// to it so the kernel can fault 2 MiB / 1 GiB pages.
    ///
    /// - Parameters:
    ///   - offset: where the mapping starts on the device, a multiple of ``alignment``.
    ///   - length: how many bytes to map, a multiple of ``alignment``; `nil` maps to the end.
    ///   - holder: who is told when this range fails or the device goes.
    ///   - options: how the mapping is made (``DaxMapping/Options``).
    /// - Throws: `.outOfRange` (zero length, past the end), `.misaligned`,
    ///   `.deviceGoing` (a removal is under way, in this process or a planned one by any process), `.closed`, `.deviceRemoved`
    ///   (gone), `.permissionDenied`, `.mapSyncUnsupported`, `.tooManyMappings`, `.system`.
    public func map(
        offset: UInt64 = 0, length: UInt64? = nil, holder: (any DaxHolder)? = nil,
        options: DaxMapping.Options = DaxMapping.Options()
    ) throws(DaxError) -> DaxMapping {
        let length = length ?? (size > offset ? size - offset : 0)
        guard length > 0 else {
            throw DaxError(.outOfRange, operation: "map", path: path, offset: offset, length: length,
                           message: offset >= size && size > 0
                               ? "offset \(offset) is at or past the end of the device (\(size) bytes)"
                               : "cannot map zero bytes")
        }
        // Before any arithmetic: offset + length may not even be a number.
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow, end <= size, length <= UInt64(Int.max) else {
            throw DaxError(.outOfRange, operation: "map", path: path, offset: offset, length: length,
                           message: "range [\(offset), \(overflow ? "2^64 + \(end)" : String(end))) reaches past the end of the device (\(size) bytes)")
        }
        guard offset % alignment == 0, length % alignment == 0 else {
            throw DaxError(.misaligned, operation: "map", path: path, offset: offset, length: length,
                           message: "offset \(offset) and length \(length) must be multiples of the device alignment \(alignment)")
        }
        // The first mapping is what makes the process-wide parts know this device
        // (the handler, removal uevents, the retire channel); before the retire check.
        // A device no longer alive is refused below, under the lock, and joins nothing.
        let runtime = DaxRuntime.process
        if lifecycle == .alive { try runtime.enroll(self) }
        try RetireMarker.refuseWhileRetiring(RetireTarget.keys(of: identity, kind: kind), operation: "map", path: path)
        if DaxMonitor.handlerDisplaced {
            throw DaxError(.handlerDisplaced, operation: "map", path: path, offset: offset, length: length,
                           message: "another sigaction() replaced daxmap's SIGBUS/SIGSEGV handler, so faults in a new mapping could not be handled; install your handler before the first map, or call DaxMonitor.reinstallHandler() after installing it")
        }

        // Hold the state lock across mmap and registration so a removal cannot
        // slip between the lifecycle check and the registration (freeze is exact).
        return try state.withLock { (s: inout State) throws(DaxError) -> DaxMapping in
            switch s.lifecycle {
            case .alive: break
            case .going:
                throw DaxError(.deviceGoing, operation: "map", path: path, offset: offset, length: length,
                               message: "the device is being removed; new mappings are refused until it is back")
            case .gone:
                throw DaxError(.deviceRemoved, operation: "map", path: path,
                               message: "the device was removed; reopen it once it is back")
            case .closed:
                throw DaxError(.closed, operation: "map", path: path, message: "the device is closed")
            }
            let readOnly = options.readOnly || self.options.readOnly
            // Under a simulation the mappings show the simulated cache, never the file.
            let fd = s.descriptor < 0 ? s.descriptor : simulatedDomain?.cacheDescriptor ?? s.descriptor
            let base = try mapAligned(descriptor: fd, offset: offset, length: Int(length),
                                      readOnly: readOnly, prefault: options.prefault, largePages: options.largePages)
            let id = runtime.registry.nextID()
            let unit = kind == .deviceDax ? Int(alignment) : Syscalls.pageSize
            let policy = options.faultPolicy == .terminate ? CDAXMAP_POLICY_TERMINATE : CDAXMAP_POLICY_REPLACE
            var slot = cdaxmap_range_register(base, Int(length), id, CInt(policy.rawValue), unit)
            if slot < 0 && runtime.registry.reclaimClosedSlots(64) > 0 {
                slot = cdaxmap_range_register(base, Int(length), id, CInt(policy.rawValue), unit)
            }
            guard slot >= 0 else {
                Syscalls.munmap(base, Int(length))
                throw DaxError(.tooManyMappings, operation: "map", path: path,
                               message: "daxmap's range table is full (\(CDAXMAP_RANGE_CAPACITY) open or revoked mappings); close mappings you no longer use (closed mappings give their entries back when the table fills)")
            }
            let mapping = DaxMapping(device: self, holder: holder, offset: offset, count: Int(length),
                                     granularity: granularity, options: options, id: id, base: base, slot: slot)
            runtime.registry.add(mapping)
            if kind == .emulated {
                // Failures injected by any process meet this mapping (DaxMapTesting's DaxFaultInjector).
                do throws(DaxError) { try EmulatedFailures.current?.arm(mapping) } catch {
                    mapping.close()
                    throw error
                }
            }
            return mapping
        }
    }

    /// mmap at an address aligned to the device alignment (and to 2 MiB for
    /// large DAX file mappings, so PMD faults are possible): reserve
    /// length + align anonymously, map `MAP_FIXED` inside, trim the rest.
    private func mapAligned(descriptor fd: CInt, offset: UInt64, length: Int, readOnly: Bool,
                            prefault: Bool, largePages: Bool) throws(DaxError) -> UnsafeMutableRawPointer {
        guard fd >= 0 else {
            throw DaxError(.closed, operation: "map", path: path, message: "the device is closed")
        }
        let pmd = 2 << 20
        var align = Int(alignment)
        // Small pages only: a 2 MiB-aligned slot, then one page in (the kernel
        // would otherwise align a DAX file mapping to 2 MiB by itself).
        let skew = kind == .fsdaxFile && !largePages ? Syscalls.pageSize : 0
        if kind == .fsdaxFile && (length >= pmd || skew > 0) { align = max(align, pmd) }
        let prot = readOnly ? PROT_READ : PROT_READ | PROT_WRITE
        var flags = useMapSync ? MAP_SHARED_VALIDATE | MAP_SYNC : MAP_SHARED
        if prefault { flags |= MAP_POPULATE }

        let page = Syscalls.pageSize
        var reservation: UnsafeMutableRawPointer?
        var target: UnsafeMutableRawPointer?
        if align > page {
            switch Syscalls.mmap(nil, length + align + skew, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) {
            case .success(let r):
                reservation = r
                let raw = UInt(bitPattern: r)
                target = UnsafeMutableRawPointer(bitPattern: ((raw + UInt(align) - 1) & ~(UInt(align) - 1)) + UInt(skew))
                flags |= MAP_FIXED
            case .failure(let errno):
                throw DaxError(.system, operation: "mmap", path: path, length: UInt64(length), errno: errno,
                               message: "cannot reserve \(length + align) bytes of address space")
            }
        }
        switch Syscalls.mmap(target, length, prot, flags, fd, Int(offset)) {
        case .success(let p):
            if let reservation, let target {
                let head = target - reservation
                if head > 0 { Syscalls.munmap(reservation, head) }
                let tail = (reservation + length + align + skew) - (target + length)
                if tail > 0 { Syscalls.munmap(target + length, tail) }
            }
            return p
        case .failure(let errno):
            if let reservation { Syscalls.munmap(reservation, length + align + skew) }
            throw mmapError(errno, offset: offset, length: length)
        }
    }

    private func mmapError(_ errno: Errno, offset: UInt64, length: Int) -> DaxError {
        switch errno {
        case .permissionDenied, .notPermitted:
            return DaxError(.permissionDenied, operation: "mmap", path: path, offset: offset, length: UInt64(length),
                            errno: errno, message: "mapping refused: the device or file was opened without the needed access")
        case .notSupported where useMapSync:
            return DaxError(.mapSyncUnsupported, operation: "mmap", path: path, offset: offset, length: UInt64(length),
                            errno: errno, message: "MAP_SYNC was refused")
        case .operationNotSupportedByDevice, .noSuchAddressOrDevice:
            return DaxError(.deviceRemoved, operation: "mmap", path: path, offset: offset, length: UInt64(length),
                            errno: errno, message: "the device is not there (unbound?)")
        default:
            return DaxError(.system, operation: "mmap", path: path, offset: offset, length: UInt64(length),
                            errno: errno, message: "mmap failed")
        }
    }
}
