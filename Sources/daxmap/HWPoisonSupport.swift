import DaxMap
import Glibc

/// Whether MADV_HWPOISON can work here, asked before anything is written:
/// `poison` and `scrub --hwpoison` must leave the user's page as it was when
/// the kernel would refuse (issue 26: a refused poison had overwritten it).
enum HWPoisonSupport {
    struct Refusal {
        let reason: String
        /// What madvise would have said (EINVAL, EPERM).
        let errno: CInt
    }

    /// Nil when the poison can be tried; else why the kernel would refuse it.
    static func refusal() -> Refusal? {
        // /proc/sys/vm/memory_failure_recovery exists exactly with CONFIG_MEMORY_FAILURE.
        if Syscalls.readText("/proc/sys/vm/memory_failure_recovery") == nil {
            return Refusal(reason: "this kernel has no CONFIG_MEMORY_FAILURE (no /proc/sys/vm/memory_failure_recovery): it refuses MADV_HWPOISON",
                           errno: EINVAL)
        }
        if !hasSysAdmin() {
            return Refusal(reason: "MADV_HWPOISON needs root (CAP_SYS_ADMIN)", errno: EPERM)
        }
        return nil
    }

    /// CAP_SYS_ADMIN (bit 21) in the effective set of /proc/self/status.
    private static func hasSysAdmin() -> Bool {
        guard let status = Syscalls.readText("/proc/self/status"),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let mask = UInt64(line.dropFirst("CapEff:".count).trimmingPrefix(while: { $0 == " " || $0 == "\t" }), radix: 16)
        else { return Syscalls.userID() == 0 }
        return mask & (1 << 21) != 0
    }

    /// Gives the page at `offset` real memory without changing a byte: one byte
    /// read and written back (a hole in a file is the shared zero page, which
    /// cannot be poisoned; a write fault allocates the block).
    static func makeReal(_ mapping: DaxMapping, at offset: Int) throws(DaxError) {
        var byte = [UInt8](repeating: 0, count: 1)
        do {
            try byte.withUnsafeMutableBytes { try mapping.read(at: offset, into: $0) }
            try byte.withUnsafeBytes { try mapping.write($0, at: offset, persist: true) }
        } catch { throw asDaxError(error) }
    }
}
