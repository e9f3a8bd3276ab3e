import DaxMap

// The one conversion from DaxMap's errors, so that a service using DaxLog catches one type.
// See <doc:HandlingErrors>.
extension DaxLogError {
    /// A DaxMap error as a DaxLog error: the one conversion.
    ///
    /// The code is ``Code/device``; ``underlying`` is `error` itself, so nothing is lost
    /// (match `underlying?.code` for the device's reason); operation, path, offset and
    /// message are the device error's. Use it where a service calls DaxMap directly
    /// (`DaxDevice.open`, `beginRemoval`'s device, a mapping of its own) inside code that
    /// otherwise throws `DaxLogError`:
    ///
    /// ```swift
    /// do throws(DaxError) { _ = try device.deepFlush() } catch { throw DaxLogError(error) }
    /// ```
    public init(_ error: DaxError) {
        self.init(.device, operation: error.operation, path: error.path, offset: error.offset,
                  underlying: error, message: error.message)
    }

    /// The same conversion for an error whose type was widened to `any Error` (a task
    /// group, `??`, a `do` whose calls throw different types): a `DaxLogError` as it is, a `DaxError` as ``init(_:)-(DaxError)``
    /// makes it, and nil for any other error (a `CancellationError`, the service's own),
    /// which is not daxmap's to describe.
    public init?(_ error: any Error) {
        switch error {
        case let error as DaxLogError: self = error
        case let error as DaxError: self.init(error)
        default: return nil
        }
    }
}
