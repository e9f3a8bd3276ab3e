internal import CDaxMap

/// Introspection for daxmap's own tests.
enum DaxMapTestHooks {
    /// Ranges currently in the signal handler's table.
    static var registeredRanges: Int { cdaxmap_range_count() }
}
