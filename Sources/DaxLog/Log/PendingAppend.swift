/// One appender's records waiting for the group commit, on the appender's
/// stack while it waits (see ``DaxLog/appendRecords(_:)``): the leader reads
/// the buffers and writes the result while the appender is blocked on the
/// commit lock, which orders both.
struct PendingAppend {
    let buffers: UnsafeBufferPointer<UnsafeRawBufferPointer>
    /// Its numbers, once a leader stored and persisted it.
    var sequences: Range<UInt64>?
    /// Why it failed, if it did (apart from `sequences`: a `Result` of this
    /// large error would be moved with a `memmove` on every append).
    var error: DaxLogError?

    init(buffers: UnsafeBufferPointer<UnsafeRawBufferPointer>) {
        self.buffers = buffers
    }

    /// Whether a leader is done with it.
    var done: Bool { sequences != nil || error != nil }
}
