/// What ``DaxRetirement/listHolders(path:)`` saw: the holding processes, and
/// how many processes it could not look into.
public struct DaxHolderListing: Sendable, Hashable {
    /// The processes that map the device or have it open.
    public var processes: [DaxHolderProcess]
    /// Processes whose maps or descriptors could not be read (other users'
    /// processes, without privilege) and that did not answer over the retire
    /// channel: any of them may hold the device. 0 means the listing is complete.
    public var unreadableProcesses: Int

    /// Creates a listing.
    public init(processes: [DaxHolderProcess], unreadableProcesses: Int) {
        self.processes = processes
        self.unreadableProcesses = unreadableProcesses
    }
}
