import Glibc
import SystemPackage

// Every libc call of DaxMap, DaxLog and their testing code goes through
// `Syscalls` (this file and the Syscalls+*.swift beside it): EINTR is handled
// in one place, errno is read right after the call and returned as a typed
// `Result`, and a result that is ignored is ignored here, with the reason.
// `Tests/lint/libc-calls.sh` (run by `make test`) keeps it so.

/// Runs `body` until it stops failing with EINTR; returns its value or the errno.
@inline(__always)
package func retryingOnInterrupt<T: BinaryInteger>(_ body: () -> T) -> Result<T, Errno> {
    while true {
        let value = body()
        if value != -1 { return .success(value) }
        let error = Errno(rawValue: Glibc.errno)
        if error != .interrupted { return .failure(error) }
    }
}

/// The syscall layer: one namespace, split by subject into `Syscalls+Files`,
/// `Syscalls+Memory`, `Syscalls+Sockets` and this file (process, time, environment).
package enum Syscalls {
    /// The errno of the call that just failed (read it before any other call).
    @inline(__always)
    package static var lastError: Errno { Errno(rawValue: Glibc.errno) }

    /// `-1` as a failure with the errno, anything else as success (no EINTR retry).
    @inline(__always)
    static func checked<T: BinaryInteger>(_ value: T) -> Result<T, Errno> {
        value == -1 ? .failure(lastError) : .success(value)
    }

    /// The text libc gives an errno (strerror(3)), for messages.
    package static func describe(_ errno: Errno) -> String {
        String(cString: strerror(errno.rawValue))
    }

    package static func processID() -> Int32 { getpid() }

    package static func userID() -> uid_t { getuid() }

    /// An environment variable, nil when unset.
    package static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// Runs `handler` when the process exits through `exit` (or returns from main).
    package static func atExit(_ handler: @convention(c) () -> Void) {
        // Fails only when the table of handlers is full: the handler is then not run, and nothing else changes.
        _ = atexit(handler)
    }

    /// Sleeps the whole of `duration`: a signal that interrupts nanosleep(2) only
    /// resumes the rest of it.
    package static func sleep(_ duration: Duration) {
        let (s, atto) = max(duration, .zero).components
        var request = timespec(tv_sec: Int(s), tv_nsec: Int(atto / 1_000_000_000))
        var remaining = timespec()
        // EINTR is the only failure of a valid request: sleep the rest.
        while nanosleep(&request, &remaining) != 0 && Glibc.errno == EINTR { request = remaining }
    }

    /// CLOCK_MONOTONIC in nanoseconds.
    @inline(__always)
    package static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        // CLOCK_MONOTONIC is always there and `ts` is valid: clock_gettime cannot fail.
        _ = clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Read once: every page-granular persist rounds with it.
    package static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Online processors, at least 1 (sysconf says -1 when it cannot tell).
    package static var processorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Physical memory in bytes, 0 when sysconf cannot tell.
    package static var physicalMemory: UInt64 { UInt64(max(sysconf(Int32(_SC_PHYS_PAGES)), 0)) * UInt64(pageSize) }
}
