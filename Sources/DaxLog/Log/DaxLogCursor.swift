/// Walks a log's live records in order, reading one at a time: a log of
/// 200,000 records is read with one record in memory, not an array of all.
///
/// Made by ``DaxLog/cursor(from:)``. Each ``next()`` reads the next live
/// record after the last one returned, checksum-verified, as
/// ``DaxLog/records(from:)`` reads them all: lost records are skipped (they
/// are in ``DaxLog/lostSequences``), and a record that fails to read now is
/// marked lost and skipped. Records appended while the cursor walks are
/// returned too once they are acknowledged; records discarded before the
/// cursor reaches them are skipped.
public struct DaxLogCursor: Sendable {
    /// The log walked.
    public let log: DaxLog
    /// The smallest sequence number ``next()`` may return next.
    public private(set) var position: UInt64

    init(log: DaxLog, position: UInt64) {
        self.log = log
        self.position = position
    }

    /// The next live record, or nil at the end of the acknowledged records
    /// (a later call returns records appended since).
    /// - Throws: `.sealed` or `.closed` when the log's mapping is released.
    public mutating func next() throws(DaxLogError) -> DaxLogRecord? {
        guard let record = try log.readNext(from: position) else { return nil }
        position = record.sequence + 1
        return record
    }
}
