internal import CDaxMap

/// Introspection for daxmap's own tests.
enum DaxMapTestHooks {
    /// The id of the mapping the signal handler would attribute `address` to, if any.
    static func registeredMapping(at address: UnsafeRawPointer) -> UInt64? {
        let id = cdaxmap_range_owner(address)
        return id == 0 ? nil : id
    }
}
