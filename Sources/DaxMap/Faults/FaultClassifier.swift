internal import CDaxMap
import Glibc

/// A handler record in a mapping's device terms: the device range it
/// concerns, the ``DaxFault`` an event reports, and the error a guarded access
/// throws. What failed is not decided here: ``FailureCause`` says it (from the
/// record, ``FailureCause/init(record:)``), and this only places it on the
/// device. The monitor (for holders and events) and the guarded accesses (for
/// their synchronous throw) both use it, so a fault means the same thing on both paths.
struct FaultClassifier {
    /// The mapping the record belongs to.
    let base: UInt
    let offset: UInt64
    let count: Int
    let device: String
    let id: UInt64

    init(_ mapping: DaxMapping) {
        id = mapping.id
        base = UInt(bitPattern: mapping.base.pointer)
        offset = mapping.offset
        count = mapping.count
        device = mapping.device.path
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

    /// The event of a record whose cause is `cause`.
    func fault(_ raw: cdaxmap_fault, _ cause: FailureCause) -> DaxFault {
        DaxFault(cause: DaxFault.Cause(cause.kind), device: device, range: range(of: raw),
                 mappingID: raw.mapping_id,
                 guarded: raw.flags & UInt32(CDAXMAP_EVENT_GUARDED) != 0,
                 replaced: cause.replaced,
                 signal: raw.signo, code: raw.code, addressLSB: raw.addr_lsb, thread: raw.tid,
                 injected: cause.injected, epoch: cause.epoch)
    }

    /// What a guarded access throws for the fault it caught. `closed`: the
    /// mapping's owner closed it (its addresses are a reservation now).
    /// `gone`: how many bytes from a device offset to the mapping's end are
    /// known gone (asked only when no memory is behind the access).
    func error(_ operation: String, _ raw: cdaxmap_fault, closed: Bool,
               gone: (UInt64) -> UInt64? = { _ in nil }) -> DaxError {
        let inMapping = UInt(raw.address) >= base && UInt(raw.address) < base + UInt(count)
        if !inMapping { return callerBufferError(operation, raw) }
        return FailureCause(record: raw).error(operation, device: device, at: deviceOffset(raw.address),
                                               extent: range(of: raw), closed: closed, gone: gone)
    }

    /// The role the caller's buffer plays in `operation`: a write's source, a
    /// read's destination (the mapping is the other side).
    static func callerSide(_ operation: String) -> String {
        switch operation {
        case "write": "source"
        case "read": "destination"
        default: "caller's"
        }
    }

    /// Not this mapping's failure: the buffer the caller passed in faulted. It
    /// is named (source or destination, `operation` says which side) so the
    /// error does not blame this mapping's healthy device. When the buffer
    /// lies in another daxmap mapping, the error carries that failure's code
    /// and says which mapping; otherwise it is `EFAULT`.
    func callerBufferError(_ operation: String, _ raw: cdaxmap_fault) -> DaxError {
        let side = Self.callerSide(operation)
        let sideOperation = "\(operation) (\(side) buffer)"
        let address = "0x\(String(raw.address, radix: 16))"
        let intact = "this mapping (\(device), the \(side == "source" ? "destination" : side == "destination" ? "source" : "other side")) did not fail"
        if raw.flags & UInt32(CDAXMAP_EVENT_UNREGISTERED) != 0 || raw.mapping_id == 0 {
            return DaxError(.system, operation: sideOperation, errno: .badAddress,
                            message: "the \(side) buffer faulted (signal \(raw.signo), code \(raw.code)) at address \(address); \(intact)")
        }
        // In another mapping's range: its failure, told as that mapping's.
        let cause = FailureCause(record: raw)
        let other = DaxRuntime.process.registry.mapping(raw.mapping_id)
        let otherClosed = other.map { $0.state == .closed } ?? true // closed mappings leave the registry
        let what = switch cause.kind {
        case .revoked: otherClosed ? "was closed" : "was revoked (its device was removed)"
        case .memoryFailureActionRequired, .memoryFailureActionOptional: "has a memory failure (poison) there"
        case .removed, .pagesLost, .unexplained: "has no memory behind that address any more"
        case .preRemove: "is being removed"
        }
        let owner = other.map { "daxmap mapping \($0.id) of \($0.device.path)" } ?? "daxmap mapping \(raw.mapping_id)"
        return DaxError(cause.kind.errorCode(closed: otherClosed), operation: sideOperation, path: other?.device.path,
                        message: "the \(side) buffer faulted at address \(address): it lies in \(owner), which \(what); \(intact)")
    }

    /// What a guarded access throws before touching memory the handler marked failed.
    func error(_ operation: String, marked kind: CInt, lo: UInt, hi: UInt) -> DaxError {
        var cause = FailureCause(mark: kind, epoch: 0)
        // A removed mark over an injected range: the injector's, not a truncation.
        var ilo: UInt = 0, ihi: UInt = 0
        cause.injected = kind == CDAXMAP_FAILED_REMOVED && cdaxmap_inject_lookup(id, lo, &ilo, &ihi) == CDAXMAP_FAILED_REMOVED
        return cause.refusal(operation, device: device, extent: deviceOffset(UInt64(lo))..<deviceOffset(UInt64(hi)))
    }

    /// A handler mark in device terms.
    func failedRange(kind: CInt, lo: UInt, hi: UInt) -> DaxFailedRange {
        DaxFailedRange(range: deviceOffset(UInt64(lo))..<deviceOffset(UInt64(hi)),
                       kind: DaxFailedRange.Kind(FailureCause(mark: kind, epoch: 0).kind))
    }
}
