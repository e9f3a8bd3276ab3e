internal import CDaxMap
import Glibc
import SystemPackage

extension DaxDevice {
    /// Clears the media errors in `range` so it can be used again; its data is
    /// lost (zeros on DAX files and device-dax). Never called by daxmap on its
    /// own: ``scrub(range:clear:progressInterval:progress:)`` clears only when asked.
    ///
    /// - A DAX file: the range's blocks are deallocated and allocated again
    ///   (`fallocate` punch-hole, then allocate), as libpmem2 clears: the file
    ///   system zeroes the new blocks, which clears poison on pmem.
    /// - Device-dax: the NVDIMM bus's clear-error command (ACPI ARS, through
    ///   libndctl) where the bus has it; `.unsupported` where it does not (qemu's
    ///   emulated NVDIMM, memmap pmem, CXL).
    /// - An emulated device: the failures injected there (DaxMapTesting's `DaxFaultInjector`).
    ///   Memory that is really gone (a truncated file's tail) cannot be cleared.
    ///
    /// - Returns: the ranges cleared (empty when there was nothing to clear).
    /// - Throws: `.outOfRange`, `.misaligned`, `.permissionDenied` (opened
    ///   read-only), `.unsupported`, `.system`.
    @discardableResult
    public func clearErrors(in range: Range<UInt64>) throws(DaxError) -> [Range<UInt64>] {
        try checkDeviceRange("clear", range)
        switch kind {
        case .emulated:
            return try EmulatedFailures.current?.clear(self, range) ?? []
        case .fsdaxFile:
            guard !options.readOnly else {
                throw DaxError(.permissionDenied, operation: "clear", path: path, offset: range.lowerBound,
                               length: UInt64(range.count), message: "the file was opened read-only; clearing rewrites it")
            }
            let fd = state.withLock { $0.descriptor }
            guard fd >= 0 else { throw DaxError(.closed, operation: "clear", path: path, message: "the device is closed") }
            let punch: CInt = 0x02 | 0x01 // FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
            for (mode, what) in [(punch, "deallocate"), (CInt(0), "reallocate")] {
                let rc = cdaxmap_fallocate(fd, mode, range.lowerBound, UInt64(range.count))
                if rc != 0 {
                    let errno = Errno(rawValue: -rc)
                    throw DaxError(errno == .notSupported ? .unsupported : .system, operation: "fallocate", path: path,
                                   offset: range.lowerBound, length: UInt64(range.count), errno: errno,
                                   message: "cannot \(what) the range's blocks to clear its poison")
                }
            }
            return [range]
        case .deviceDax:
            guard let region = nvdimmRegionName, let start = physicalStart else {
                throw DaxError(.unsupported, operation: "clear", path: path, offset: range.lowerBound,
                               length: UInt64(range.count),
                               message: "no NVDIMM region with a known physical address is under this device (CXL or hmem memory, or not root): there is no bus command to clear its poison")
            }
            let cleared = try NdctlCommands.clearErrors(region: region, address: start + range.lowerBound,
                                                         length: UInt64(range.count), path: path).get()
            return cleared > 0 ? [range.lowerBound..<(range.lowerBound + min(cleared, UInt64(range.count)))] : []
        }
    }
}
