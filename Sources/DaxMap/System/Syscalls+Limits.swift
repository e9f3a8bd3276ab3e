import Glibc

// Resource limits: what the process may still create.
extension Syscalls {
    /// The soft RLIMIT_NPROC: how many processes and threads the real user may
    /// have (all of its processes together); nil when unlimited or unknown.
    /// Not enforced for root, whatever it says. (RLIM_INFINITY is all ones.)
    package static var threadLimit: Int? {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(__RLIMIT_NPROC.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else {
            return nil
        }
        return Int(clamping: limit.rlim_cur)
    }
}
