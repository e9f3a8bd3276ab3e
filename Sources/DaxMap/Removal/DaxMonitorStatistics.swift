/// Counters of the process-wide monitor.
public struct DaxMonitorStatistics: Sendable, Hashable {
    /// Faults in daxmap's ranges recorded by the handler and drained.
    public var faultsRecorded: UInt64
    /// Fault records the handler could not keep (ring full); the failures were re-derived.
    public var faultsDropped: UInt64
    /// Signals outside daxmap's ranges (or not from the kernel), handed to the previous handler.
    public var foreignFaultsChained: UInt64
    /// SIGBUS/SIGSEGV sent by a process (`kill`, `sigqueue`, `tgkill`: `si_code` ≤ 0),
    /// never acted on, chained to the previous handler (counted in ``foreignFaultsChained`` too).
    public var forgedSignals: UInt64
    /// Asynchronous memory-failure notices (`BUS_MCEERR_AO`) for ranges already
    /// released: the tail of a pre-remove storm, absorbed rather than fatal.
    public var lateNotices: UInt64
    /// Times the monitor found daxmap's handler replaced by another `sigaction`.
    public var handlerDisplacements: UInt64
    /// uevent messages refused because they did not come from the kernel.
    public var ueventsRejected: UInt64
    /// uevent messages that did not parse.
    public var ueventsMalformed: UInt64
    /// Whether the netlink uevent socket could be opened (else sysfs is polled).
    public var ueventsAvailable: Bool
}
