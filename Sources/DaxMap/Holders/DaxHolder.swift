/// A user of device memory, told when the memory it maps fails or goes away:
/// the twin of the kernel's `dax_holder_operations.notify_failure`.
///
/// Every ``DaxMapping`` belongs to a holder (given to ``DaxDevice/map(offset:length:holder:options:)``).
/// A failure notifies only the holders whose mappings intersect it, once per
/// failed range; a removal (``DaxFailure/Kind/preRemove``) notifies every
/// holder of the device, which should then stop using and ``DaxMapping/close()``
/// its mappings (``DaxFailure/mappings`` lists them). What a holder still maps
/// when the deadline passes is revoked.
///
/// Calls run on daxmap's own holder threads, never on the caller's or the
/// cooperative pool's: a holder that blocks its thread, never returns, or is an
/// actor delays nobody else, and a removal's deadline holds whatever the holder does.
/// So a call may arrive late: a holder that maps the range again (after the
/// device came back) applies a failure only to mappings it ``DaxFailure/concerns(_:)``
/// (``DaxFailure/epoch``), never to data written through the newer mapping.
public protocol DaxHolder: AnyObject, Sendable {
    /// Told about a failure in a range this holder maps.
    ///
    /// - Returns: for ``DaxFailure/Kind/preRemove``, true when the holder has
    ///   released (or is releasing) its mappings: counted in
    ///   ``DaxRemovalReport/holdersHandled`` if it arrives before the report is
    ///   built (false, or no answer by the deadline, and the holder is listed
    ///   in ``DaxRemovalReport/unansweredHolders`` or counted as not handled;
    ///   its mappings are revoked either way). For the other kinds, true when
    ///   it stopped using the range; the answer is only counted
    ///   (``DaxDeviceEvent/answered(_:holder:handled:)``). The answer never
    ///   changes what daxmap does: the deadline and the marks do.
    func notifyFailure(_ failure: DaxFailure) async -> Bool
}
