/// A user of device memory, told when the memory it maps fails or goes away:
/// the twin of the kernel's `dax_holder_operations.notify_failure`.
///
/// Every ``DaxMapping`` belongs to a holder (given to ``DaxDevice/map(offset:length:holder:options:)``).
/// A failure notifies only the holders whose mappings intersect it; a removal
/// (``DaxFailure/Kind/preRemove``) notifies every holder of the device, which
/// should then stop using and ``DaxMapping/close()`` its mappings. What a holder
/// still maps when the deadline passes is revoked.
///
/// Each holder is called on its own task, so a slow holder delays nobody else.
public protocol DaxHolder: AnyObject, Sendable {
    /// Told about a failure in a range this holder maps.
    /// - Returns: whether the holder handled it (recorded in the removal report).
    func notifyFailure(_ failure: DaxFailure) async -> Bool
}
