/// A process of the host that maps or has open a device being looked at by
/// ``DaxRetirement/holders(path:)`` or retired by ``DaxRetirement/retire(path:deadline:then:)``.
public struct DaxHolderProcess: Sendable, Hashable, CustomStringConvertible {
    /// Its process id.
    public var pid: Int32
    /// Its command (`/proc/PID/comm`).
    public var command: String
    /// The address ranges (in that process) that map the device.
    public var mappedRanges: [Range<UInt64>]
    /// Descriptors of the process open on the device.
    public var descriptors: Int
    /// Whether it runs daxmap: its retire channel answered.
    public var runsDaxmap: Bool
    /// Holders of its daxmap mappings of the device (nil for other processes).
    public var holders: Int?

    /// Bytes the process maps of the device.
    public var bytesMapped: UInt64 { mappedRanges.reduce(0) { $0 + UInt64($1.count) } }

    /// Creates a description of a holding process.
    public init(pid: Int32, command: String, mappedRanges: [Range<UInt64>], descriptors: Int,
                runsDaxmap: Bool, holders: Int? = nil) {
        self.pid = pid
        self.command = command
        self.mappedRanges = mappedRanges
        self.descriptors = descriptors
        self.runsDaxmap = runsDaxmap
        self.holders = holders
    }

    /// One line: pid, command, what it holds, whether it runs daxmap.
    public var description: String {
        "pid \(pid) (\(command)): \(bytesMapped) bytes mapped in \(mappedRanges.count) range(s), "
            + "\(descriptors) descriptor(s), " + (runsDaxmap ? "daxmap (\(holders ?? 0) holder(s))" : "not daxmap")
    }

    var summary: String { "pid \(pid) (\(command)) maps \(bytesMapped) bytes, \(descriptors) descriptor(s)" }
}
