import DaxMap

extension DaxInjectedFailure.Kind {
    /// The failure an access meets where this was injected (the handler marks
    /// the trap's extent with its `FailureCause.Kind.mark`).
    package var cause: FailureCause.Kind {
        switch self {
        case .media: .memoryFailureActionRequired
        case .removed: .removed
        }
    }
}
