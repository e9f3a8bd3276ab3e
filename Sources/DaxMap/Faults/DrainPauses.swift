import Synchronization

/// While any test holds a pause the fault monitor leaves the handler's ring
/// alone, so a test can fill it past capacity (or queue a whole pre-remove
/// storm) and see what a drop does. It stays in the library because the
/// monitor loop reads it: one relaxed load per wake-up of the monitor thread
/// (never on an access), and DaxMapTesting's `DaxMapTestHooks` holds the lever.
package enum DrainPauses {
    package static let count = Atomic<Int>(0)
    static var paused: Bool { count.load(ordering: .relaxed) > 0 }
}
