internal import DaxMapSync
import Synchronization

/// The answers of one round of holder calls (one failure, several holders),
/// as they arrive. The round never waits for them: whoever needs the answers
/// (a removal at its deadline) reads what has come by then.
final class HolderCalls: Sendable {
    private struct State {
        var called: [ObjectIdentifier: any DaxHolder] = [:]
        var answered: Set<ObjectIdentifier> = []
    }

    private let state = Locked(State())
    // Counted apart from the state so the per-answer checks take no lock.
    private let calledCount = Atomic<Int>(0)
    private let answers = Atomic<Int>(0)
    private let handled = Atomic<Int>(0)

    /// Calls `holder.notifyFailure(failure)` on a holder thread and returns at
    /// once; `answered` runs on that thread with the answer, if it ever comes.
    func call(_ holder: any DaxHolder, _ failure: DaxFailure,
              answered: @escaping @Sendable (Bool) -> Void = { _ in }) {
        let key = ObjectIdentifier(holder)
        state.withLock { $0.called[key] = holder }
        calledCount.add(1, ordering: .relaxed)
        Task(executorPreference: DaxRuntime.process.holderExecutor) { [self] in
            let ok = await holder.notifyFailure(failure)
            state.withLock { _ = $0.answered.insert(key) }
            if ok { handled.add(1, ordering: .relaxed) }
            answers.add(1, ordering: .releasing)
            answered(ok)
        }
    }

    var allAnswered: Bool { answers.load(ordering: .acquiring) == calledCount.load(ordering: .relaxed) }
    var handledCount: Int { handled.load(ordering: .relaxed) }
    var answeredCount: Int { answers.load(ordering: .acquiring) }

    /// Holders called that have not answered yet, by name.
    var unanswered: [String] {
        guard !allAnswered else { return [] }
        let waiting = state.withLock { s in s.called.filter { !s.answered.contains($0.key) }.map(\.value) }
        return waiting.map(HolderCalls.name(of:)).sorted()
    }

    /// How a holder is named in reports: its description if it has one, else its type.
    static func name(of holder: any DaxHolder) -> String {
        if let described = holder as? any CustomStringConvertible { return described.description }
        return String(describing: type(of: holder))
    }
}
