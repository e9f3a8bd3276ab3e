/// One record read back from a ``DaxLog``: its sequence number and its bytes,
/// checksum-verified.
public struct DaxLogRecord: Sendable, Hashable {
    /// The number ``DaxLog/append(_:)-([UInt8])`` returned for it.
    public var sequence: UInt64
    /// The bytes appended.
    public var bytes: [UInt8]

    /// A record from its parts: for tests of code that consumes records.
    public init(sequence: UInt64, bytes: [UInt8]) {
        self.sequence = sequence
        self.bytes = bytes
    }
}
