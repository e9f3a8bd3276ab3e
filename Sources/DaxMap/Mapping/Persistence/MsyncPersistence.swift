internal import CDaxMap
import Glibc

/// Persistence by `msync` of the pages (page granularity: an emulated device,
/// a DAX file mapped without `MAP_SYNC`), after draining non-temporal stores.
struct MsyncPersistence: PersistenceStrategy {
    let streamingThreshold: Int

    func write(_ mapping: DaxMapping, _ source: UnsafeRawPointer, at offset: Int, count: Int, persist: Bool) throws(DaxError) {
        try hardwareWrite(self, mapping, source, at: offset, count: count, persist: persist)
    }

    func fill(_ mapping: DaxMapping, _ value: UInt8, at offset: Int, count: Int, persist: Bool) throws(DaxError) {
        try hardwareFill(self, mapping, value, at: offset, count: count, persist: persist)
    }

    func persist(_ mapping: DaxMapping, at offset: Int, count: Int, streamed: Bool) throws(DaxError) {
        let first = offset & ~(Syscalls.pageSize - 1)
        cdaxmap_sfence() // drain non-temporal stores before the write-back
        if case .failure(let errno) = Syscalls.msync(mapping.base.pointer + first, offset + count - first, MS_SYNC) {
            // ENOMEM: part of the range is no longer mapped (revoked or truncated away).
            throw DaxError(errno == .noMemory ? .deviceRemoved : .system, operation: "persist",
                           path: mapping.device.path, offset: mapping.offset + UInt64(offset), length: UInt64(count),
                           errno: errno, message: "msync failed")
        }
    }
}
