/// One appender's records waiting for the group commit, on the appender's
/// stack while it waits (see ``DaxLog/appendRecords(_:)``): the leader reads
/// the buffers and writes the result while the appender is blocked on the
/// commit lock, which orders both.
struct PendingAppend {
    let buffers: UnsafeBufferPointer<UnsafeRawBufferPointer>
    var result: Result<Range<UInt64>, DaxLogError>?

    init(buffers: UnsafeBufferPointer<UnsafeRawBufferPointer>) {
        self.buffers = buffers
        result = nil
    }
}
