/// What stands behind an opened ``DaxDevice``.
public enum DaxDeviceKind: String, Sendable, Hashable, CustomStringConvertible {
    /// A device-dax character device, `/dev/daxX.Y` (NVDIMM, CXL, hmem, memmap).
    case deviceDax = "devdax"
    /// A file on a file system mounted with DAX (`-o dax`), mapped with `MAP_SYNC`.
    case fsdaxFile = "fsdax"
    /// A plain file standing in for a device: page granularity, persistence by `msync`.
    case emulated = "emulated"

    public var description: String { rawValue }
}
