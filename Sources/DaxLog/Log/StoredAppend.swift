import DaxMap

/// What the store phase of an append hands to its commit.
struct StoredAppend: Sendable {
    let sequences: Range<UInt64>
    /// The logical position of its first record (or of the pad before it).
    let start: UInt64
    /// The logical position after its records: persistent once the log's durable tail reaches it.
    let end: UInt64
    let attachment: UInt64
    let mapping: DaxMapping
    let payloadBytes: Int
    /// Persisted under the lock already (the test hook's path).
    let committed: Bool
}
