internal import CDaxMap
import Glibc

/// Process-wide persistence facts, decided once.
enum Persistence {
    /// The best flush instruction (cpuid once: under virtualisation cpuid is a VM exit).
    static let flushKind: CInt = cdaxmap_flush_detect()

    /// `DAXMAP_MOVNT_THRESHOLD`: the user's non-temporal threshold in bytes (as
    /// libpmem2's `PMEM_MOVNT_THRESHOLD`), read once; anything but a
    /// non-negative decimal number is ignored.
    static let thresholdOverride: Int? = {
        guard let text = Syscalls.environment("DAXMAP_MOVNT_THRESHOLD") else { return nil }
        guard !text.isEmpty, text.utf8.allSatisfy({ (48...57).contains($0) }), let n = Int(text) else { return nil }
        return n
    }()

    /// Gives the calling thread an alternate signal stack before it touches a mapping.
    @inline(__always)
    static func prepareThread() {
        _ = cdaxmap_thread_prepare()
    }

    /// Name of the flush instruction in use.
    static var flushName: String {
        switch flushKind {
        case CInt(CDAXMAP_FLUSH_CLWB.rawValue): "clwb"
        case CInt(CDAXMAP_FLUSH_CLFLUSHOPT.rawValue): "clflushopt"
        case CInt(CDAXMAP_FLUSH_CLFLUSH.rawValue): "clflush"
        default: "none"
        }
    }
}
