import Glibc

/// A pthread mutex and condition variable on the monotonic clock, for
/// daxmap's own threads (holder workers, the removal) — never for tasks.
/// pthread, not `Synchronization.Mutex`, so ThreadSanitizer sees it.
///
/// The pthread results are not checked: on a default mutex and a condition set
/// up here they fail only for misuse (EINVAL on a destroyed object, EPERM on
/// unlocking a mutex not held), never for a cause from outside the process.
/// The timed wait's result is the one that says something, and is returned.
final class Condition: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    func signal() { pthread_cond_signal(cond) }

    /// Waits (the lock held) until signalled or `deadline`; false on timeout.
    func wait(until deadline: timespec) -> Bool {
        var deadline = deadline
        return pthread_cond_timedwait(cond, mutex, &deadline) != ETIMEDOUT
    }

    /// The monotonic clock, in nanoseconds.
    static func now() -> UInt64 {
        Syscalls.monotonicNanoseconds()
    }

    /// The monotonic clock now plus `nanoseconds`, for ``wait(until:)``.
    static func deadline(after nanoseconds: Int) -> timespec {
        var t = timespec()
        _ = clock_gettime(CLOCK_MONOTONIC, &t) // CLOCK_MONOTONIC always exists: cannot fail
        let total = Int(t.tv_nsec) + nanoseconds
        t.tv_sec += total / 1_000_000_000
        t.tv_nsec = total % 1_000_000_000
        return t
    }
}
