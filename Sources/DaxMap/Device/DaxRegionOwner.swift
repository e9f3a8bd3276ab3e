/// The process that owns a claimed region (see ``DaxRegionClaim``).
package struct DaxRegionOwner: Sendable, Hashable, CustomStringConvertible {
    package var pid: Int32
    /// Its `/proc/PID/comm`.
    package var command: String
    package var isThisProcess: Bool

    static func thisProcess() -> DaxRegionOwner {
        let pid = Syscalls.processID()
        return DaxRegionOwner(pid: pid, command: HolderScan.command(of: pid) ?? "?", isThisProcess: true)
    }

    package var description: String { "process \(pid) (\(command))" + (isThisProcess ? ", this process" : "") }
}
