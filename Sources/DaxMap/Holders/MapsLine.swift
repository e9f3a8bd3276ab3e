/// One line of `/proc/PID/maps`: `start-end perms offset MAJ:MIN inode path`
/// (hexadecimal bounds and device numbers, decimal inode, the path padded on
/// the left and possibly with spaces in it). Outside input: another process's
/// maps may name any path, so every line parses to a value or to nil.
package struct MapsLine: Sendable, Hashable {
    /// The mapped address range; never empty.
    package var range: Range<UInt64>
    package var major: UInt32
    package var minor: UInt32
    package var inode: UInt64
    /// The path, or "" for anonymous memory (`[heap]` and the like are paths here).
    package var path: Substring

    /// The line's fields, or nil when it is not a maps line.
    package init?(_ line: Substring) {
        let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        guard fields.count >= 5, let inode = UInt64(fields[4]) else { return nil }
        let dev = fields[3].split(separator: ":", omittingEmptySubsequences: false)
        let bounds = fields[0].split(separator: "-", omittingEmptySubsequences: false)
        guard dev.count == 2, let major = UInt32(dev[0], radix: 16), let minor = UInt32(dev[1], radix: 16),
              bounds.count == 2, let start = UInt64(bounds[0], radix: 16), let end = UInt64(bounds[1], radix: 16),
              start < end else { return nil }
        self.range = start..<end
        self.major = major
        self.minor = minor
        self.inode = inode
        self.path = fields.count > 5 ? fields[5].drop { $0 == " " } : ""
    }

    /// Anonymous memory: no device, no path.
    package var isAnonymous: Bool { major == 0 && minor == 0 && path.isEmpty }
}
