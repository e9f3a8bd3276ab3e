internal import CDaxMap
import Synchronization

/// Introspection and levers for daxmap's own tests (internal: `@testable` only).
enum DaxMapTestHooks {
    /// The id of the mapping the signal handler would attribute `address` to, if any.
    static func registeredMapping(at address: UnsafeRawPointer) -> UInt64? {
        let id = cdaxmap_range_owner(address)
        return id == 0 ? nil : id
    }

    /// While any test holds a pause the monitor leaves the handler's ring
    /// alone, so a test can fill it past capacity and see what a drop does.
    /// One relaxed load a wake.
    static let drainPauses = Atomic<Int>(0)
    static func pauseDrains() { drainPauses.add(1, ordering: .relaxed) }
    static func resumeDrains() { drainPauses.subtract(1, ordering: .relaxed) }
}
