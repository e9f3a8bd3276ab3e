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

    /// What the kernel said, in daxmap's terms.
    public var cause: Cause
    /// The path of the device the fault hit.
    public var device: String
    /// The failed device range (from `si_addr` and `si_addr_lsb`).
    public var range: Range<UInt64>
    /// The ``DaxMapping/id`` of the mapping the fault hit.
    public var mappingID: UInt64
    /// Raised inside a guarded access, which threw.
    public var guarded: Bool
    /// The pages were replaced by anonymous memory (unguarded access).
    public var replaced: Bool
    // The raw signal record (package-level: ``cause`` and ``range`` say what it means).
    /// `si_signo`: `SIGBUS` or `SIGSEGV`.
    package var signal: Int32
    /// `si_code`, which ``cause`` translates.
    package var code: Int32
    /// `si_addr_lsb`: log2 of the failed extent's size, which ``range`` spans.
    package var addressLSB: Int32
    /// The kernel thread id of the faulting thread.
    package var thread: Int32
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
