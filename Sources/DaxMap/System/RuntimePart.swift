internal import DaxMapSync
import Synchronization

/// One part of the runtime: made by `make` at the first ``value``, exactly once
/// however many threads ask at the same moment; read without a lock after that.
final class RuntimePart<Value: AnyObject & Sendable>: Sendable {
    private let make: @Sendable () -> Value
    private let slot = AtomicLazyReference<Value>()
    /// Serialises the making, so `make` runs once (a lazy reference alone may run it twice).
    private let making = Locked(())

    init(_ make: @escaping @Sendable () -> Value) { self.make = make }

    var value: Value {
        if let value = slot.load() { return value }
        return making.withLock { _ in slot.load() ?? slot.storeIfNil(make()) }
    }

    /// The part, if it has been made.
    var ifMade: Value? { slot.load() }
}
