internal import DaxMapSync
import Synchronization

/// One part of the runtime: made by `make` at the first ``value``, exactly once
/// however many threads ask at the same moment; read without a lock after that.
///
/// A plain `Atomic` rather than `AtomicLazyReference`: that type's load lives
/// in the uninstrumented standard library, so ThreadSanitizer would not see
/// the ordering and would report every part's fields as raced (as with `Mutex`,
/// see `Locked`).
final class RuntimePart<Value: AnyObject & Sendable>: Sendable {
    private let make: @Sendable () -> Value
    /// The part, retained once made (released with the runtime).
    private let slot = Atomic<Unmanaged<Value>?>(nil)
    /// Serialises the making, so `make` runs once.
    private let making = Locked(())

    init(_ make: @escaping @Sendable () -> Value) { self.make = make }

    deinit { slot.load(ordering: .acquiring)?.release() }

    var value: Value {
        if let made = slot.load(ordering: .acquiring) { return made.takeUnretainedValue() }
        return making.withLock { _ in
            if let made = slot.load(ordering: .acquiring) { return made.takeUnretainedValue() }
            let value = make()
            slot.store(Unmanaged.passRetained(value), ordering: .releasing)
            return value
        }
    }

    /// The part, if it has been made.
    var ifMade: Value? { slot.load(ordering: .acquiring)?.takeUnretainedValue() }
}
