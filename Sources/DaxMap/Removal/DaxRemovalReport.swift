/// What a removal did, reported when it completes.
public struct DaxRemovalReport: Sendable, Hashable, CustomStringConvertible {
    /// The device's path.
    public var device: String
    /// What started the removal.
    public var source: RemovalSource
    /// Distinct holders told `preRemove`.
    public var holdersNotified: Int
    /// Holders whose `notifyFailure` returned before the report was built.
    public var holdersAnswered: Int
    /// Holders that answered `true` before the report was built.
    public var holdersHandled: Int
    /// Holders that had not answered when the report was built (at the
    /// deadline), by description (their `CustomStringConvertible` text, else their type).
    public var unansweredHolders: [String]
    /// Mappings their holders closed before the deadline.
    public var mappingsReleased: Int
    /// Mappings still open at the deadline (or without a holder), now `PROT_NONE`.
    public var mappingsRevoked: Int
    /// From freeze to completion.
    public var duration: Duration

    public var description: String {
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        var text = "\(device) (\(source)): \(holdersNotified) holder(s) notified, \(holdersHandled) handled, "
            + "\(mappingsReleased) mapping(s) released, \(mappingsRevoked) revoked in \(ms) ms"
        if !unansweredHolders.isEmpty { text += "; no answer from \(unansweredHolders.joined(separator: ", "))" }
        return text
    }
}
