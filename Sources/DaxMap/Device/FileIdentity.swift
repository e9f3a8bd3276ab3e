/// What identifies an opened file or device node across opens.
struct FileIdentity: Sendable, Hashable {
    var device: UInt64
    var inode: UInt64
    var rdev: UInt64
}
