extension DaxDiscovery {
    /// Every CXL memdev, decoder and region, as `cxl list -M -D -R` shows them (through
    /// libcxl). A machine without CXL gives an empty topology, not an error.
    ///
    /// - Throws: ``DaxError`` with code `.system` when libcxl cannot create a context
    ///   (out of memory).
    ///
    /// The corresponding C functions are `cxl_new`, `cxl_memdev_get_first` and
    /// `cxl_bus_get_first`.
    public static func cxlTopology() throws(DaxError) -> CxlTopology {
        try Cxl.topology().get()
    }
}
