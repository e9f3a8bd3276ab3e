extension DaxDevice {
    /// Removes the device from this process, as the kernel's pre-remove does for
    /// a file system: **freeze** (new ``map(offset:length:holder:options:)``
    /// calls throw `.deviceGoing`), **notify** every holder with
    /// ``DaxFailure/Kind/preRemove`` (with its mappings), **wait** until every
    /// holder has closed its mappings and answered, or `deadline` passes,
    /// **revoke** what is left, then close the descriptor. The process stays alive.
    ///
    /// The removal runs on a thread of its own and holder calls on holder
    /// threads, so the deadline holds whatever the holders do — block their
    /// thread, never answer, run on an actor or the main actor — and whatever
    /// else occupies the cooperative pool. The report names the holders that
    /// had not answered.
    ///
    /// daxmap calls this itself when a uevent, a memory-failure storm or an
    /// access error says the device is going; call it to take a device out of
    /// service. Concurrent calls share one removal (the first call's deadline).
    /// - Parameter deadline: how long holders have to release (default:
    ///   ``OpenOptions/removalDeadline``).
    @discardableResult
    public func beginRemoval(deadline: Duration? = nil) async -> DaxRemovalReport {
        await dispatcher.startRemoval(source: .request, deadline: deadline).report()
    }
}
