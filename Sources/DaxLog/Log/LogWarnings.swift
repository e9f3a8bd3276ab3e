internal import Logging
import DaxMap

/// DaxLog's swift-log entries, at `warning`: records it learns are lost (with
/// their sequence ranges and what took them) and appends that failed. Silent
/// unless the application bootstrapped a backend (``DaxLogging``); a logger is
/// made per event, which is rare, so a backend bootstrapped late is still used.
enum LogWarnings {
    static let label = "daxlog"
    /// Ranges listed in one entry; the rest are counted (a poisoned log can have thousands).
    static let listed = 16

    /// Acknowledged records found lost: `cause` is a failure kind (`removed`,
    /// `media`...), `recovery` (open or reattach) or `read` (a record that failed to read).
    static func lost(_ ranges: [Range<UInt64>], path: String, cause: String, deviceRange: Range<UInt64>? = nil) {
        guard !ranges.isEmpty, let logger = DaxLogging.logger(label: label) else { return }
        let count = ranges.reduce(UInt64(0)) { $0 &+ UInt64($1.count) }
        var shown = ranges.prefix(listed).map { "[\($0.lowerBound), \($0.upperBound))" }.joined(separator: " ")
        if ranges.count > listed { shown += " and \(ranges.count - listed) more ranges" }
        var metadata: Logger.Metadata = [
            "device": "\(path)", "kind": "\(cause)", "sequences": "\(shown)", "count": "\(count)",
        ]
        if let r = deviceRange { metadata["range"] = "[\(r.lowerBound), \(r.upperBound))" }
        logger.warning("records lost", metadata: metadata)
    }

    /// An append (store or persist) failed: nothing of it is acknowledged and the log needs a reattach.
    static func appendFailed(_ error: DaxLogError) {
        guard let logger = DaxLogging.logger(label: label) else { return }
        var metadata: Logger.Metadata = ["device": "\(error.path ?? "")", "kind": "\(error.underlying?.code.rawValue ?? error.code.rawValue)"]
        if let s = error.sequence { metadata["sequence"] = "\(s)" }
        if let o = error.offset { metadata["offset"] = "\(o)" }
        logger.warning("append failed; reattach to recover", metadata: metadata)
    }
}
