extension DaxDevice {
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
                kind = .memoryFailureActionOptional
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
}
