/// A point where the log stores or persists: tests inject a failure at each in turn.
enum StorePoint: Hashable, Sendable {
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
enum StoreAction: Equatable, Sendable {
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
