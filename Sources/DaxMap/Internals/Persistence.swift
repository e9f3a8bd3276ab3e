internal import CDaxMap

/// Process-wide persistence facts, decided once.
enum Persistence {
    /// The best flush instruction (cpuid once: under virtualisation cpuid is a VM exit).
    static let flushKind: CInt = cdaxmap_flush_detect()

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
