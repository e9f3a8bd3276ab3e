import Glibc
import SystemPackage

/// An NVDIMM's dirty-shutdown count: how many times power was lost without the
/// platform being able to flush the DIMM's buffers (ADR failure).
///
/// Compare it with the value saved at the previous start: if it went up, data
/// written since the last known-good point may be lost.
///
/// The corresponding C function is `ndctl_dimm_get_dirty_shutdown`.
public enum DirtyShutdownCount: Sendable, Hashable, CustomStringConvertible {
    /// The platform reports a count.
    case count(Int)
    /// The platform has no such counter (no `dirty_shutdown` attribute, as on
    /// qemu's emulated NVDIMM or with firmware that does not implement it).
    case unsupported
    /// The platform has a counter but reading it failed.
    case failed(Errno)

    /// Interprets what `ndctl_dimm_get_dirty_shutdown` returned: a count, or a
    /// negative errno.
    ///
    /// libndctl initialises the value to `-ENOENT` and only overwrites it when
    /// the bus provider (nfit, papr) exposes `dirty_shutdown`, so `-ENOENT`,
    /// like `-EOPNOTSUPP`, `-ENOTTY`, `-ENXIO` and `-ENODEV`, means
    /// "unsupported"; any other negative value is a failure.
    init(returnValue value: Int64) {
        if value >= 0 {
            self = .count(Int(clamping: value))
            return
        }
        let code = value < Int64(-Int32.max) ? Int32.max : Int32(-value)
        switch code {
        case ENOENT, EOPNOTSUPP, ENOTTY, ENXIO, ENODEV:
            self = .unsupported
        default:
            self = .failed(Errno(rawValue: code))
        }
    }

    /// The count, when the platform reports one.
    public var value: Int? {
        if case .count(let n) = self { return n }
        return nil
    }

    public var description: String {
        switch self {
        case .count(let n): return String(n)
        case .unsupported: return "unsupported"
        case .failed(let e): return "failed (errno: \(e.rawValue))"
        }
    }
}
