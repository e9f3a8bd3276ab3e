/// What a scrub found: every failed range of the scanned range, merged, and
/// how it compares with the device's known badblocks.
public struct DaxScrubReport: Sendable, Hashable, CustomStringConvertible {
    /// The device's path.
    public var device: String
    /// The device range scanned.
    public var range: Range<UInt64>
    /// Bytes examined (read, or found failed): all of ``range`` unless the
    /// device went during the scrub.
    public var bytesScanned: UInt64
    /// Every failed range found, merged per kind, sorted (device offsets):
    /// `.poison` (a media failure), `.removed` (no memory behind it).
    public var failedRanges: [DaxFailedRange]
    /// The device's known badblocks within ``range`` before the scrub.
    public var knownBadblocks: [Range<UInt64>]
    /// Found failed and known bad.
    public var foundAndKnown: [Range<UInt64>]
    /// Found failed, not known bad: poison nobody had recorded.
    public var foundOnly: [Range<UInt64>]
    /// Known bad but read fine (cleared since, or a stale list).
    public var knownOnly: [Range<UInt64>]
    /// Ranges cleared when the scrub was asked to clear (empty otherwise).
    public var cleared: [Range<UInt64>]
    /// Why clearing failed, when the scrub was asked to clear and could not
    /// (for example `.unsupported` on a bus without clear-error).
    public var clearError: DaxError?
    /// How long the scrub took.
    public var duration: Duration

    /// A report from its parts: for tests of code that reads reports (a scrub makes the real ones).
    public init(device: String, range: Range<UInt64>, bytesScanned: UInt64, failedRanges: [DaxFailedRange],
                knownBadblocks: [Range<UInt64>], foundAndKnown: [Range<UInt64>], foundOnly: [Range<UInt64>],
                knownOnly: [Range<UInt64>], cleared: [Range<UInt64>], clearError: DaxError? = nil, duration: Duration) {
        self.device = device
        self.range = range
        self.bytesScanned = bytesScanned
        self.failedRanges = failedRanges
        self.knownBadblocks = knownBadblocks
        self.foundAndKnown = foundAndKnown
        self.foundOnly = foundOnly
        self.knownOnly = knownOnly
        self.cleared = cleared
        self.clearError = clearError
        self.duration = duration
    }

    /// No failed range was found.
    public var isClean: Bool { failedRanges.isEmpty }

    public var description: String {
        "scrubbed \(bytesScanned) bytes of \(device) [\(range.lowerBound), \(range.upperBound)): "
            + (failedRanges.isEmpty ? "no failures" : failedRanges.map(\.description).joined(separator: ", "))
            + " (\(foundAndKnown.count) known, \(foundOnly.count) new, \(knownOnly.count) known but read fine)"
            + (cleared.isEmpty ? "" : ", cleared \(cleared.count)")
    }
}
