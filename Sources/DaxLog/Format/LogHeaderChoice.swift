extension LogHeader {
    /// The header a log goes on with, from its header area `area`: the valid
    /// slot with the higher epoch; nil when a new log is to be made (`creation`
    /// allows it). Every refusal is a typed error that says which and why.
    /// - Parameters:
    ///   - capacity: the data area this region gives.
    ///   - tooSmall: the error for a log whose data area the device no longer
    ///     holds (its argument: the bytes the log's region needs), or nil when
    ///     the device holds any log this region can.
    static func choose(in area: UnsafeRawBufferPointer, capacity: UInt64, creation: DaxLog.Options.Creation,
                       operation: String, path: String?, offset: UInt64,
                       tooSmall: (_ needed: UInt64) -> DaxLogError?) throws(DaxLogError) -> LogHeader? {
        var valid: [(slot: Int, header: LogHeader)] = []
        var blank = true
        var newer: UInt32?
        for (i, at) in LogLayout.slotOffsets.enumerated() {
            switch decode(UnsafeRawBufferPointer(rebasing: area[at..<(at + LogLayout.slotSize)])) {
            case .valid(let h): valid.append((i, h)); blank = false
            case .blank: break
            case .unknownVersion(let v): newer = max(newer ?? 0, v); blank = false
            case .invalid: blank = false
            }
        }
        let looksOurs = LogLayout.slotOffsets.contains {
            UInt64(littleEndian: area.loadUnaligned(fromByteOffset: $0, as: UInt64.self)) == LogLayout.magic
        }
        if creation == .overwrite || (blank && creation == .ifBlank) { return nil }
        if let newer {
            throw DaxLogError(.unsupportedVersion, operation: operation, path: path, offset: offset,
                              message: "the log there has on-media version \(newer); this DaxLog reads versions 1 to \(LogLayout.version): open it with a newer DaxLog (it was left untouched)")
        }
        if let newest = valid.max(by: { $0.header.epoch < $1.header.epoch }) {
            if let problem = newest.header.problem() {
                throw DaxLogError(.corruptHeader, operation: operation, path: path, offset: offset + UInt64(LogLayout.slotOffsets[newest.slot]),
                                  message: "log header slot \(newest.slot) passes its checksum but its \(problem): no writer makes such a header; the log cannot be opened safely")
            }
            let (needed, overflow) = (offset + UInt64(LogLayout.headerArea)).addingReportingOverflow(newest.header.capacity)
            if newest.header.capacity > capacity, !overflow, let error = tooSmall(needed) { throw error }
            guard newest.header.capacity == capacity else {
                throw DaxLogError(.invalidArgument, operation: operation, path: path, offset: offset,
                                  message: "the log there has a data area of \(newest.header.capacity) bytes, this region \(capacity): open it with the length it was made with")
            }
            return newest.header
        }
        if blank {
            throw DaxLogError(.notALog, operation: operation, path: path, offset: offset,
                              message: "the region holds no log (its header is all zeros) and creating one was not allowed")
        }
        if looksOurs {
            throw DaxLogError(.corruptHeader, operation: operation, path: path, offset: offset,
                              message: "both log headers fail their checksum; the log cannot be opened safely")
        }
        throw DaxLogError(.notALog, operation: operation, path: path, offset: offset,
                          message: "the region holds something other than a log; it was left untouched (open with creation .overwrite to replace it)")
    }
}
