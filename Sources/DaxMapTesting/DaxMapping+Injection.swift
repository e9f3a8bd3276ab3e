internal import CDaxMap
import DaxMap
import Glibc
import SystemPackage

extension DaxMapping {
    /// What `injectMemoryFailure(at:)` saw.
    public enum MemoryFailureInjection: Sendable {
        /// The kernel raised `BUS_MCEERR_AR` and the guard turned it into this error.
        case caught(DaxError)
        /// `madvise(MADV_HWPOISON)` was refused (no `CONFIG_MEMORY_FAILURE`, or not root).
        case unsupported(Errno)
        /// The call returned without a synchronous signal: the kernel may have sent
        /// an asynchronous notice instead (`EHWPOISON` on fsdax), which the holders get.
        case notRaised
    }

    /// Poisons the page at mapping offset `offset` with `madvise(MADV_HWPOISON)`,
    /// a real memory failure for test harnesses (root, `CONFIG_MEMORY_FAILURE`).
    /// The kernel's `BUS_MCEERR_AR` is caught by a guard, and the holders of the
    /// range are notified as for any memory failure.
    /// - Warning: the page's data is lost for good on real devices until the
    ///   poison is cleared (`ndctl clear-errors`, or a write for pmem).
    public func injectMemoryFailure(at offset: Int) -> MemoryFailureInjection {
        let page = Syscalls.pageSize
        guard offset >= 0, offset < count, isUsable else { return .unsupported(.invalidArgument) }
        DaxMapInternals.prepareThread()
        var fault = cdaxmap_fault()
        let r = cdaxmap_poison_guarded(base.pointer + (offset & ~(page - 1)), page, &fault)
        if r == -EFAULT { return .caught(guardedFaultError("madvise", fault)) }
        // EHWPOISON: the page was poisoned and the process signalled (fsdax sends AO).
        if r == -CDAXMAP_EHWPOISON { return .notRaised }
        if r < 0 { return .unsupported(Errno(rawValue: -r)) }
        return .notRaised
    }
}
