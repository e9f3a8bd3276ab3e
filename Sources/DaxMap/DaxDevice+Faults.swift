import Synchronization

/// Asynchronous memory-failure notices waiting for the storm decision.
struct PendingNotices {
    var ranges: [Range<UInt64>] = []
    var scheduled = false
}

extension DaxDevice {
    /// Notices about this many distinct extents within ``noticeWindow`` are a
    /// pre-remove storm, not poison: XFS answers `MF_MEM_PRE_REMOVE` by sending
    /// `BUS_MCEERR_AO` for every page of every mapped file.
    static let stormThreshold = 32
    static let noticeWindow: Duration = .milliseconds(20)

    /// Acts on a batch of faults in this device's mappings (monitor thread → task).
    func handleFaults(_ actions: [FaultAction]) async {
        var told = Set<String>()
        for action in actions {
            guard lifecycle == .alive else { return } // going or gone: faults are only reported
            let fault = action.fault
            let kind: DaxFailure.Kind
            switch fault.cause {
            case .memoryFailureActionOptional:
                if fault.range.lowerBound == 0 && fault.range.upperBound >= size || hasVanished() {
                    await remove(source: .memoryFailure)
                    return
                }
                collectNotice(fault.range)
                continue
            case .memoryFailureActionRequired:
                kind = .memoryFailureActionRequired
            case .addressError:
                if hasVanished() {
                    await remove(source: .accessError)
                    return
                }
                kind = fault.replaced ? .pagesLost : .removed
            case .accessAfterRevoke, .other:
                continue
            }
            // Storms: one notification per kind and range.
            let key = "\(kind)@\(fault.range)"
            if told.insert(key).inserted { await notifyHolders(fault.range, kind: kind) }
        }
    }

    /// Holds an action-optional notice for a moment: alone it is poison for the
    /// holders of its range; in a storm it is the device going.
    private func collectNotice(_ range: Range<UInt64>) {
        let schedule = notices.withLock { n -> Bool in
            n.ranges.append(range)
            if n.scheduled { return false }
            n.scheduled = true
            return true
        }
        guard schedule else { return }
        Task {
            try? await Task.sleep(for: Self.noticeWindow)
            let ranges = notices.withLock { n -> [Range<UInt64>] in
                n.scheduled = false
                defer { n.ranges.removeAll() }
                return n.ranges
            }
            let distinct = Set(ranges.map(\.lowerBound)).count
            guard lifecycle == .alive else { return }
            if distinct >= Self.stormThreshold || hasVanished() {
                await remove(source: .memoryFailure)
                return
            }
            for range in Set(ranges) { await notifyHolders(range, kind: .memoryFailureActionOptional) }
        }
    }
}
