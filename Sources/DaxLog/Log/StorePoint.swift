// The log's one test hook (``DaxLog/inject(_:)``). It stays in the library
// because it has to act between the log's own stores, where no mapping or
// simulation can reach (a torn record, a kill between store and persist). It
// costs nothing when unused: an append reads the injector once per batch (and
// once for its persist); without one, a record only tests that local — no
// load, no call, no point made — and the records are stored in runs as before.

/// A point where the log stores or persists: tests inject a failure at each in turn.
package enum StorePoint: Hashable, Sendable {
    /// Storing the `index`-th record of an append (or a pad/gap record).
    case recordStore(index: Int)
    /// The one persist of an append's records.
    case recordPersist
    /// Storing a header slot (checkpoint, format).
    case headerStore
    /// Persisting it.
    case headerPersist
}

/// What an injected failure does at a store point.
package enum StoreAction: Equatable, Sendable {
    case proceed
    /// The store or persist throws a media failure.
    case fault
    /// Only the first `bytes` bytes are stored, then the process "dies".
    case tear(bytes: Int)
    /// The process "dies" before the store.
    case kill
}

/// Thrown inside the log when an injected kill or tear ends the "process".
struct InjectedCrash: Error {}
