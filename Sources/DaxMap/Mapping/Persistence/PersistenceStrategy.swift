internal import CDaxMap
import Glibc
import SystemPackage

/// How one mapping makes stores persistent, decided once when it is mapped
/// (like libpmem2's persist function chosen per map): so a copy never asks
/// again which instruction, which threshold, which system call.
struct PersistenceStrategy: Sendable {
    let granularity: StoreGranularity
    /// The flush instruction for cache-line granularity (CDAXMAP_FLUSH_*).
    let flushKind: CInt
    /// Copies and fills of at least this many bytes use non-temporal stores.
    let streamingThreshold: Int
    /// A simulated persistence domain takes over every store and persist.
    let simulator: DaxPersistenceSimulator?

    /// At page granularity non-temporal stores beat ordinary ones (which read
    /// each line for ownership first) only from about 8 KiB: below, the drain of
    /// the streaming stores costs more than `msync` saves (`make bench`).
    static let pageNonTemporalMinimum = 8 << 10

    init(granularity: StoreGranularity, nonTemporalThreshold: Int, simulator: DaxPersistenceSimulator? = nil) {
        self.granularity = granularity
        self.simulator = simulator
        flushKind = granularity == .cacheLine ? Persistence.flushKind : CInt(CDAXMAP_FLUSH_NONE.rawValue)
        // The user's DAXMAP_MOVNT_THRESHOLD is taken as it is, at every granularity.
        streamingThreshold = granularity == .page && Persistence.thresholdOverride == nil
            ? max(nonTemporalThreshold, Self.pageNonTemporalMinimum) : nonTemporalThreshold
    }

    func streams(_ count: Int) -> Bool { count >= streamingThreshold }

    /// Makes [start + offset, +count) persistent: flush each cache line and
    /// drain (cache-line granularity), drain only (byte, or after streaming
    /// stores), or `msync` the pages (page granularity). Faults are the
    /// caller's to classify: the raw record comes back in `fault`.
    enum Outcome {
        case done
        case faulted(cdaxmap_fault)
        case failed(Errno)
    }

    func persist(_ start: UnsafeMutableRawPointer, _ offset: Int, _ count: Int, streamed: Bool) -> Outcome {
        switch granularity {
        case .byte:
            cdaxmap_sfence()
        case .cacheLine:
            if streamed {
                cdaxmap_sfence() // non-temporal stores need only the drain
                return .done
            }
            var fault = cdaxmap_fault()
            if cdaxmap_flush_guarded(flushKind, start + offset, count, &fault) != 0 { return .faulted(fault) }
        case .page:
            let page = Syscalls.pageSize
            let first = offset & ~(page - 1)
            cdaxmap_sfence() // drain non-temporal stores before the write-back
            if case .failure(let errno) = Syscalls.msync(start + first, offset + count - first, MS_SYNC) {
                return .failed(errno)
            }
        }
        return .done
    }
}
