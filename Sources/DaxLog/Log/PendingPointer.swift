/// A waiting appender's ``PendingAppend``, queued for the leader. Sendable
/// because only the holder of the commit lock dereferences it, while its
/// appender waits for that lock.
struct PendingPointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<PendingAppend>

    init(_ pointer: UnsafeMutablePointer<PendingAppend>) { self.pointer = pointer }
}
