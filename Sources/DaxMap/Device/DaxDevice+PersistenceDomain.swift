import Glibc
import SystemPackage

extension DaxDevice {
    /// Flushes the device's writes past the memory controller's write-pending
    /// queues, as libpmem2's `pmem2_deep_flush`: libndctl's region deep flush
    /// on device-dax, `fdatasync` on a DAX file (whose sync makes the pmem
    /// driver flush its region), nothing on an emulated device (the result says so).
    ///
    /// Needed only where the platform's power-fail protection does not cover
    /// those queues; stores are otherwise persistent once ``DaxMapping/persist(at:count:)``
    /// returns. The region flush covers the whole region, so `range` only checks
    /// what the caller meant.
    /// - Parameter range: device offsets (default: everything).
    /// - Throws: `.outOfRange`, `.misaligned`, `.closed`, `.unsupported` (device-dax
    ///   without an NVDIMM region: CXL, hmem; or a region without `deep_flush`),
    ///   `.permissionDenied`, `.system`.
    @discardableResult
    public func deepFlush(range: Range<UInt64>? = nil) throws(DaxError) -> DaxDeepFlush {
        try checkDeviceRange("deepFlush", range ?? 0..<size)
        switch kind {
        case .emulated:
            return DaxDeepFlush(method: .notApplicable, region: nil,
                                detail: granularity == .page
                                    ? "\(path) is emulated: no write-pending queue is behind it, and persist() already msyncs"
                                    : "\(path) is emulated with unsafeCacheLinePersistence (benchmarking only): persist() flushes and fences, nothing is msynced")
        case .fsdaxFile:
            let fd = state.withLock { $0.descriptor }
            guard fd >= 0 else { throw DaxError(.closed, operation: "deepFlush", path: path, message: "the device is closed") }
            if case .failure(let errno) = Syscalls.fdatasync(fd) {
                throw DaxError(.system, operation: "fdatasync", path: path, errno: errno, message: "the file's sync failed")
            }
            return DaxDeepFlush(method: .fileSync, region: nvdimmRegionName,
                                detail: "fdatasync of \(path): the pmem driver flushed its region")
        case .deviceDax:
            guard let region = nvdimmRegionName else {
                throw DaxError(.unsupported, operation: "deepFlush", path: path,
                               message: "no NVDIMM region is under this device (CXL or hmem memory): there is no deep flush to ask for")
            }
            switch NdctlCommands.deepFlush(region: region) {
            case .none:
                throw DaxError(.unsupported, operation: "deepFlush", path: path, message: "libndctl does not know \(region)")
            case .some(.none):
                return DaxDeepFlush(method: .regionDeepFlush, region: region, detail: "deep flush of \(region)")
            case .some(.some(let errno)):
                let code: DaxError.Code = switch errno {
                case .noSuchFileOrDirectory, .notSupported: .unsupported
                case .permissionDenied, .notPermitted: .permissionDenied
                default: .system
                }
                throw DaxError(code, operation: "deep_flush", path: "/sys/bus/nd/devices/\(region)/deep_flush", errno: errno,
                               message: code == .unsupported ? "\(region) offers no deep flush" : "the region's deep flush failed")
            }
        }
    }

    /// The unsafe-shutdown count of the device: the sum of the dirty-shutdown
    /// counts of the DIMMs of its NVDIMM region, as libpmem2's
    /// `pmem2_source_device_usc`. A change since the last run means stores
    /// that were not flushed may be lost.
    ///
    /// ``DirtyShutdownCount/unsupported`` when nobody can tell — an emulated
    /// device, memory without an NVDIMM region, a region without DIMMs (memmap
    /// pmem), a DIMM without the health command (qemu) — distinct from
    /// ``DirtyShutdownCount/failed(_:)``, when a DIMM could tell but reading it failed.
    public var unsafeShutdownCount: DirtyShutdownCount {
        guard let region = nvdimmRegionName else { return .unsupported }
        return NdctlCommands.unsafeShutdownCount(region: region)
    }
}
