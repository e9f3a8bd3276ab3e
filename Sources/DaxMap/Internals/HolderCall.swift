internal import DaxMapSync

/// The answers of one round of holder calls (one failure, several holders),
/// as they arrive. The round never waits for them: whoever needs the answers
/// (a removal at its deadline) reads what has come by then.
final class HolderCalls: Sendable {
    struct Answer: Sendable {
        var handled: Bool
    }

    private struct State {
        var called: [ObjectIdentifier: any DaxHolder] = [:]
        var answers: [ObjectIdentifier: Answer] = [:]
    }

    private let state = Locked(State())

    /// Calls `holder.notifyFailure(failure)` on a holder thread and returns at
    /// once; `answered` runs on that thread with the answer, if it ever comes.
    func call(_ holder: any DaxHolder, _ failure: DaxFailure,
              answered: @escaping @Sendable (Bool) -> Void = { _ in }) {
        let key = ObjectIdentifier(holder)
        state.withLock { $0.called[key] = holder }
        Task(executorPreference: HolderExecutor.shared) { [self] in
            let handled = await holder.notifyFailure(failure)
            state.withLock { $0.answers[key] = Answer(handled: handled) }
            answered(handled)
        }
    }

    var allAnswered: Bool { state.withLock { $0.answers.count == $0.called.count } }
    var handledCount: Int { state.withLock { $0.answers.values.filter(\.handled).count } }
    var answeredCount: Int { state.withLock { $0.answers.count } }

    /// Holders called that have not answered yet, by name.
    var unanswered: [String] {
        let waiting = state.withLock { s in s.called.filter { s.answers[$0.key] == nil }.map(\.value) }
        return waiting.map(HolderCalls.name(of:)).sorted()
    }

    /// How a holder is named in reports: its description if it has one, else its type.
    static func name(of holder: any DaxHolder) -> String {
        if let described = holder as? any CustomStringConvertible { return described.description }
        return String(describing: type(of: holder))
    }
}
