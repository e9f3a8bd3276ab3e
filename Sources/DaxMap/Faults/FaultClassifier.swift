internal import CDaxMap
import Glibc

/// The one place a raw handler record becomes device terms: its cause, the
/// device range it concerns, and the error a guarded access throws for it.
/// The monitor (for holders and events) and the guarded accesses (for their
/// synchronous throw) both use it, so a fault means the same thing on both paths.
struct FaultClassifier {
    /// The mapping the record belongs to.
    let base: UInt
    let offset: UInt64
    let count: Int
    let device: String

    init(_ mapping: DaxMapping) {
        base = UInt(bitPattern: mapping.base.pointer)
        offset = mapping.offset
        count = mapping.count
        device = mapping.device.path
    }

    /// The cause of a record: what the kernel said, except that a `BUS_ADRERR`
    /// on a trap of an injected media failure (DaxMapTesting's `DaxFaultInjector`) is that
    /// memory failure.
    static func cause(of raw: cdaxmap_fault) -> DaxFault.Cause {
        if raw.flags & UInt32(CDAXMAP_EVENT_INJECTED_POISON) != 0 { return .memoryFailureActionRequired }
        return cause(signal: raw.signo, code: raw.code)
    }

    static func cause(signal: Int32, code: Int32) -> DaxFault.Cause {
        if signal == SIGSEGV { return .accessAfterRevoke }
        switch code {
        case BUS_ADRERR_: return .addressError
        case BUS_MCEERR_AR_: return .memoryFailureActionRequired
        case BUS_MCEERR_AO_: return .memoryFailureActionOptional
        default: return .other
        }
    }

    /// The device offset of a mapped address (clamped into the mapping).
    func deviceOffset(_ address: UInt64) -> UInt64 {
        let a = UInt(address)
        guard a >= base else { return offset }
        return offset + UInt64(min(a - base, UInt(count)))
    }

    /// The failed device range: the replaced pages, the poisoned extent
    /// (`si_addr_lsb`), else the faulting page.
    func range(of raw: cdaxmap_fault) -> Range<UInt64> {
        if raw.flags & UInt32(CDAXMAP_EVENT_REPLACED) != 0 && raw.lost_length > 0 {
            let lo = deviceOffset(raw.lost_start)
            return lo..<(lo + raw.lost_length)
        }
        let extent = UInt64(1) << UInt64(raw.addr_lsb > 0 && raw.addr_lsb < 40 ? raw.addr_lsb : 12)
        let lo = deviceOffset(raw.address) & ~(extent - 1)
        return lo..<(lo + extent)
    }

    func fault(_ raw: cdaxmap_fault) -> DaxFault {
        DaxFault(cause: Self.cause(of: raw), device: device, range: range(of: raw),
                 mappingID: raw.mapping_id,
                 guarded: raw.flags & UInt32(CDAXMAP_EVENT_GUARDED) != 0,
                 replaced: raw.flags & UInt32(CDAXMAP_EVENT_REPLACED) != 0,
                 signal: raw.signo, code: raw.code, addressLSB: raw.addr_lsb, thread: raw.tid,
                 injected: raw.flags & UInt32(CDAXMAP_EVENT_INJECTED_POISON | CDAXMAP_EVENT_INJECTED_REMOVED) != 0,
                 epoch: raw.epoch)
    }

    /// What a guarded access throws for the fault it caught. `closed`: the
    /// mapping's owner closed it (its addresses are a reservation now).
    /// `gone`: how many bytes from a device offset to the mapping's end are
    /// known gone (asked only for `BUS_ADRERR`).
    func error(_ operation: String, _ raw: cdaxmap_fault, closed: Bool,
               gone: (UInt64) -> UInt64? = { _ in nil }) -> DaxError {
        let at = deviceOffset(raw.address)
        let unregistered = raw.flags & UInt32(CDAXMAP_EVENT_UNREGISTERED) != 0
        let inMapping = UInt(raw.address) >= base && UInt(raw.address) < base + UInt(count)
        if unregistered && !inMapping {
            return DaxError(.system, operation: operation, path: device, errno: .badAddress,
                            message: "the caller's buffer faulted (signal \(raw.signo), code \(raw.code)) at address 0x\(String(raw.address, radix: 16))")
        }
        if unregistered || raw.flags & UInt32(CDAXMAP_EVENT_REVOKED) != 0 || raw.signo == SIGSEGV {
            return closed
                ? DaxError(.closed, operation: operation, path: device, offset: at,
                           message: "the mapping was closed during the access")
                : DaxError(.revoked, operation: operation, path: device, offset: at,
                           message: "the mapping was revoked during the access (the device was removed)")
        }
        switch Self.cause(of: raw) {
        case .memoryFailureActionRequired, .memoryFailureActionOptional:
            let failed = range(of: raw)
            let injected = raw.flags & UInt32(CDAXMAP_EVENT_INJECTED_POISON) != 0 ? " (injected)" : ""
            return DaxError(.mediaFailure, operation: operation, path: device, offset: failed.lowerBound,
                            length: UInt64(failed.count),
                            message: "memory failure (poison)\(injected) at device offset \(failed.lowerBound), \(failed.count) bytes")
        default:
            if let length = gone(at) {
                return DaxError(.deviceRemoved, operation: operation, path: device, offset: at, length: length,
                                message: "the memory at device offset \(at) is no longer backed (BUS_ADRERR): the file was truncated; \(length) bytes from there to the end of the mapping are gone")
            }
            return DaxError(.deviceRemoved, operation: operation, path: device, offset: at,
                            message: "the memory at device offset \(at) is no longer backed (BUS_ADRERR): the device was removed or the file truncated")
        }
    }

    /// What a guarded access throws before touching memory the handler marked failed.
    func error(_ operation: String, marked kind: CInt, lo: UInt, hi: UInt) -> DaxError {
        let at = deviceOffset(UInt64(lo)), length = UInt64(hi - lo)
        switch kind {
        case CDAXMAP_FAILED_POISON:
            return DaxError(.mediaFailure, operation: operation, path: device, offset: at, length: length,
                            message: "the kernel reported a memory failure (poison) in this range; its data cannot be trusted")
        case CDAXMAP_FAILED_LOST:
            return DaxError(.deviceRemoved, operation: operation, path: device, offset: at, length: length,
                            message: "these pages were lost after a fault and replaced by anonymous memory; their contents are not the device's")
        default:
            return DaxError(.deviceRemoved, operation: operation, path: device, offset: at, length: length,
                            message: "no memory is behind this range any more (the file was truncated or the device removed)")
        }
    }

    /// A handler mark in device terms.
    func failedRange(kind: CInt, lo: UInt, hi: UInt) -> DaxFailedRange {
        let k: DaxFailedRange.Kind = switch kind {
        case CDAXMAP_FAILED_POISON: .poison
        case CDAXMAP_FAILED_LOST: .pagesLost
        default: .removed
        }
        return DaxFailedRange(range: deviceOffset(UInt64(lo))..<deviceOffset(UInt64(hi)), kind: k)
    }
}
