internal import CDaxMap
import DaxMap

/// Introspection and levers for daxmap's own tests (package: this package's
/// tests and tools, not a product's users).
package enum DaxMapTestHooks {
    /// The id of the mapping the signal handler would attribute `address` to, if any.
    package static func registeredMapping(at address: UnsafeRawPointer) -> UInt64? {
        let id = cdaxmap_range_owner(address)
        return id == 0 ? nil : id
    }

    /// While any test holds a pause the monitor leaves the handler's ring
    /// alone, so a test can fill it past capacity and see what a drop does
    /// (`DaxMap/DrainPauses`: one relaxed load a wake of the monitor).
    package static func pauseDrains() { DrainPauses.count.add(1, ordering: .relaxed) }
    package static func resumeDrains() { DrainPauses.count.subtract(1, ordering: .relaxed) }
}
