internal import CDaxMap

/// The process-wide view of daxmap's fault handling, for tools such as `daxmap watch`.
public enum DaxMonitor {
    /// Installs the SIGBUS handler and starts the monitor thread (also done by
    /// the first ``DaxDevice/map(offset:length:holder:options:)``).
    public static func start() throws(DaxError) { try DaxRuntime.process.startMonitor() }

    /// Every device event of the process, and every kernel uevent seen.
    ///
    /// Each call returns a new stream. **It never finishes**: the monitor runs
    /// for the life of the process, so a `for await` over it ends only when the
    /// task is cancelled (or the loop breaks).
    ///
    /// **Buffering**: the stream keeps the newest 4,096 events not yet
    /// consumed (`bufferingNewest(4096)`); a consumer that falls further behind
    /// loses the oldest ones, silently — the stream never blocks the fault path.
    /// Fault records lost before they reach any stream (the signal handler's
    /// ring was full) are reported as ``DaxMonitorEvent/faultsDropped(_:)``, and
    /// the holders are still told (reconciled from the range table); events a
    /// slow consumer lost here are not announced. For a count that cannot be
    /// lost, read ``statistics``.
    public static func events() -> AsyncStream<DaxMonitorEvent> { DaxRuntime.process.events.processStream() }

    /// Counters: faults recorded and dropped, foreign and forged signals chained, uevents rejected.
    public static var statistics: DaxMonitorStatistics { DaxRuntime.process.monitor.statistics }

    /// Watches `device` for removal uevents even while it has no mapping
    /// (its first mapping does the same), and makes it reachable by a planned
    /// removal (``DaxRetirement``) of another process.
    public static func watch(_ device: DaxDevice) throws(DaxError) {
        try DaxRuntime.process.enroll(device)
    }

    /// Whether another `sigaction` has replaced daxmap's SIGBUS or SIGSEGV
    /// handler since it was installed (then faults in mappings are no longer
    /// daxmap's to handle, and ``DaxDevice/map(offset:length:holder:options:)``
    /// throws `.handlerDisplaced`).
    public static var handlerDisplaced: Bool { cdaxmap_sigbus_displaced() != 0 }

    /// Puts daxmap's handler back in front of the one installed after it, which
    /// daxmap then chains to for every signal it does not own — the way for an
    /// application that must install its own SIGBUS/SIGSEGV handler after
    /// daxmap's. (Installing it *before* the first `map` needs nothing: daxmap
    /// chains to whatever it found.) A handler of the application's that
    /// chains by itself instead must call the action it replaced, as saved by
    /// its own `sigaction`, for signals it does not own — returning from a
    /// SIGBUS it did not fix re-runs the faulting instruction forever.
    public static func reinstallHandler() throws(DaxError) {
        try DaxRuntime.process.startMonitor()
        let r = cdaxmap_sigbus_reinstall()
        guard r == 0 else {
            throw DaxError(.system, operation: "sigaction", errno: .init(rawValue: -r),
                           message: "cannot reinstall the SIGBUS handler")
        }
    }
}
