internal import CDaxMap

/// A guarded store of several sources back to back, for DaxLog's appends:
/// a record's header, the caller's bytes and the padding go straight into the
/// mapping (no staging copy), with one check of the whole range.
extension DaxMapping {
    /// Copies `pieces` back to back to mapping offset `offset` (not yet
    /// persistent: the caller persists the range). Each piece is a guarded
    /// copy: a fault throws as ``write(_:at:persist:)`` does, naming the
    /// failed device offset. A simulated domain sees one store per piece.
    package func writeGathered(_ pieces: UnsafeBufferPointer<GatherPiece>, at offset: Int, count: Int) throws(DaxError) {
        try checkWritable("write", offset)
        try check("write", offset, count)
        var at = offset
        if case .installed = persistence {
            for p in pieces {
                if let s = p.source, p.count > 0 { try persistence.write(self, s, at: at, count: p.count, persist: false) }
                at += p.count
            }
            return
        }
        // Temporal stores below the threshold, as write(_:at:persist:); the
        // caller's persist drains streamed ones (its flush ends in a fence).
        let threshold = persistence.streamingThreshold
        var fault = cdaxmap_fault()
        for p in pieces {
            guard let s = p.source, p.count > 0 else { continue }
            guard at + p.count <= offset + count else {
                throw DaxError(.outOfRange, operation: "write", path: device.path, offset: UInt64(at), length: UInt64(p.count),
                               message: "the pieces exceed the \(count) bytes checked at \(offset)")
            }
            if cdaxmap_copy_guarded(base.pointer + at, s, p.count, p.count >= threshold ? 1 : 0, &fault) != 0 {
                throw faultError("write", fault)
            }
            at += p.count
        }
    }
}
