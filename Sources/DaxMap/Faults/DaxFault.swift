/// One signal as the handler recorded it, translated to device terms.
public struct DaxFault: Sendable, Hashable, CustomStringConvertible {
    /// What the kernel said.
    public enum Cause: String, Sendable, Hashable {
        /// `BUS_ADRERR`: no memory behind the address (device removed, file truncated).
        case addressError
        /// `BUS_MCEERR_AR`: poison consumed.
        case memoryFailureActionRequired
        /// `BUS_MCEERR_AO`: poison found, not consumed.
        case memoryFailureActionOptional
        /// `SIGSEGV` in a revoked or closed range.
        case accessAfterRevoke
        /// Another `si_code`.
        case other
    }

    public var cause: Cause
    public var device: String
    /// The failed device range (from `si_addr` and `si_addr_lsb`).
    public var range: Range<UInt64>
    public var mappingID: UInt64
    /// Raised inside a guarded access, which threw.
    public var guarded: Bool
    /// The pages were replaced by anonymous memory (unguarded access).
    public var replaced: Bool
    public var signal: Int32
    public var code: Int32
    public var addressLSB: Int32
    public var thread: Int32
    /// The fault met a failure injected by DaxMapTesting's `DaxFaultInjector` (a real
    /// `BUS_ADRERR` on its trap page, reported as the injected kind).
    public var injected: Bool = false
    /// The newest mapping id issued when the handler recorded the fault: what
    /// it failed concerns no mapping made later (see ``DaxFailure/epoch``).
    public var epoch: UInt64 = 0

    public var description: String {
        "\(cause) on \(device) [\(range.lowerBound), \(range.upperBound)) mapping \(mappingID)"
            + (guarded ? " guarded" : "") + (replaced ? " replaced" : "") + (injected ? " injected" : "")
    }
}
