import Glibc

/// A value behind a `pthread_mutex_t`, reachable only inside ``withLock(_:)``.
///
/// Used instead of `Synchronization.Mutex` because ThreadSanitizer cannot see
/// that type's synchronization on Linux (its futex path lives in the
/// uninstrumented standard library), so every value it protects shows up as a
/// "Swift access race" and `make tsan` would cry wolf. TSan intercepts
/// pthread mutexes. Same shape as `Mutex`: the lock owns its value.
///
/// Not daxmap's API: DaxMapSync is no product, and `Locked` is public only so that
/// DaxMap, DaxLog and the CLI share one lock (README, Source Stability).
public final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    // Behind a pointer, not a stored `var`: the mutex already makes access
    // exclusive, and a class's `var` would add a dynamic exclusivity check
    // (a swift_beginAccess/endAccess call pair, seen in DaxLog.append profiles) to every locked section.
    private let value: UnsafeMutablePointer<Value>

    /// A lock owning `initialValue`.
    public init(_ initialValue: sending Value) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let rc = pthread_mutex_init(mutex, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
        value = .allocate(capacity: 1)
        value.initialize(to: initialValue)
    }

    deinit {
        value.deinitialize(count: 1)
        value.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value. Not reentrant.
    public func withLock<Result, E: Error>(_ body: (inout sending Value) throws(E) -> sending Result) throws(E) -> sending Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value.pointee)
    }
}
