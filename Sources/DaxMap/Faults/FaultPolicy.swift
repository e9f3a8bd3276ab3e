/// What happens when an unguarded access (through a raw pointer) faults in a mapping.
///
/// Guarded accesses (``DaxMapping/read(at:into:)``, ``DaxMapping/write(_:at:persist:)``)
/// always throw instead; the policy only governs raw pointers handed to callers.
public enum FaultPolicy: Sendable, Hashable {
    /// Replace the failed pages with anonymous memory from the signal handler so
    /// the instruction resumes, and report the lost range to the holders
    /// (``DaxFailure/Kind/pagesLost``). Data read from replaced pages is zeros
    /// and is reported through ``DaxMapping/lostRanges``, never silently trusted.
    case replacePages
    /// Write a one-line diagnostic with `write(2)`, then die by the default action.
    case terminate
}
