import DaxMap
import DaxMapSync

/// A holder of one raw slice that writes nothing: records what it is told and
/// releases on pre-remove, unless it plays the stubborn holder (revoked at the
/// deadline). `poison` uses it to see which holder is told; `demo` for its stubborn one.
final class SliceHolder: DaxHolder {
    let index: Int
    let stubborn: Bool
    private let state = Locked<(mapping: DaxMapping?, notifications: [DaxFailure])>((nil, []))

    init(index: Int, stubborn: Bool = false) {
        self.index = index
        self.stubborn = stubborn
    }

    var mapping: DaxMapping? { state.withLock { $0.mapping } }
    var notifications: [DaxFailure] { state.withLock { $0.notifications } }

    func adopt(_ mapping: DaxMapping) { state.withLock { $0.mapping = mapping } }

    func notifyFailure(_ failure: DaxFailure) async -> Bool {
        let mapping = state.withLock { s -> DaxMapping? in
            s.notifications.append(failure)
            return s.mapping
        }
        guard failure.kind == .preRemove else { return true }
        if stubborn { return false }
        mapping?.close()
        return true
    }
}
