/// The memory of a device-dax instance in system-ram mode: what `kmem` hot-plugged
/// into the page allocator (`daxctl reconfigure-device --mode=system-ram`).
///
/// A snapshot, as `daxctl list` reports it (`online_memblocks`, `total_memblocks`,
/// `movable`). The memory is used through its NUMA node (``DaxDeviceInfo/targetNode``),
/// never through `/dev/daxX.Y`: there is no device-dax to map while the device is in
/// this mode.
public struct DaxSystemRAM: Sendable, Hashable {
    /// Memory blocks of the device that are online (`online_memblocks`).
    public var onlineBlocks: Int
    /// Memory blocks of the device (`total_memblocks`): its size in whole
    /// ``blockSize`` units, the part `kmem` could hot-plug.
    public var totalBlocks: Int
    /// Whether the online blocks are in `ZONE_MOVABLE` (so they can be offlined and the
    /// device given back as devdax); `nil` when libdaxctl cannot tell (no block online).
    public var movable: Bool?
    /// The memory block size of the machine in bytes (128 MiB on x86-64 up to 64 GiB
    /// of RAM), `nil` when unknown.
    public var blockSize: UInt64?

    /// A system-RAM state from its parts: for tests of code that reads a listing.
    public init(onlineBlocks: Int, totalBlocks: Int, movable: Bool?, blockSize: UInt64?) {
        self.onlineBlocks = onlineBlocks
        self.totalBlocks = totalBlocks
        self.movable = movable
        self.blockSize = blockSize
    }

    /// `online` (all), `offline` (none) or `partially online` (some).
    public var onlineState: String {
        onlineBlocks == 0 ? "offline" : onlineBlocks >= totalBlocks ? "online" : "partially online"
    }
}
