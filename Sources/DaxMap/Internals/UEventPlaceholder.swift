// Placeholder until the uevent branch lands.
public struct UEvent: Sendable, Hashable {
    public enum Action: Sendable, Hashable { case add, remove, bind, unbind, change, other(String) }
    public var action: Action
    public var devpath: String
}
struct RemovalClassifier {
    enum Verdict { case removed, returned }
    var devicePath: String
    func classify(_ event: UEvent) -> Verdict? { nil }
}
final class UEventSource: Sendable {
    static func open() -> UEventSource? { nil }
    var descriptor: CInt { -1 }
    var rejectedCount: UInt64 { 0 }
    var malformedCount: UInt64 { 0 }
    func receiveAll() -> [UEvent] { [] }
}
