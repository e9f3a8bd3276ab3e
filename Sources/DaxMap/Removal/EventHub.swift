internal import DaxMapSync
import Synchronization

/// The one place events leave daxmap: each device's streams
/// (``DaxDevice/events()``, keyed by the device's ``DeviceHandle``) and the
/// process-wide stream (``DaxMonitor/events()``).
/// An event is published once; the hub hands it to every stream that wants it.
/// Part of ``DaxRuntime``.
final class EventHub: Sendable {
    private enum Sink {
        case device(ObjectIdentifier, AsyncStream<DaxDeviceEvent>.Continuation)
        case process(AsyncStream<DaxMonitorEvent>.Continuation)
    }

    private struct State {
        var sinks: [UInt64: Sink] = [:]
        var next: UInt64 = 0
    }

    private let state = Locked(State())
    /// Streams open now; read without the lock so producers of costly events
    /// (a name per holder answer) can skip building them when nobody listens.
    private let streams = Atomic<Int>(0)
    static let buffered = 4096

    /// Whether any stream is open.
    var isObserved: Bool { streams.load(ordering: .relaxed) > 0 }

    /// A new stream of `device`'s events; nil when the device is already closed or gone
    /// (the caller returns a finished stream).
    func deviceStream(_ device: DeviceHandle) -> AsyncStream<DaxDeviceEvent> {
        let (stream, continuation) = AsyncStream<DaxDeviceEvent>.makeStream(bufferingPolicy: .bufferingNewest(Self.buffered))
        let id = add(.device(ObjectIdentifier(device), continuation))
        continuation.onTermination = { [weak self] _ in self?.remove(id) }
        return stream
    }

    func processStream() -> AsyncStream<DaxMonitorEvent> {
        let (stream, continuation) = AsyncStream<DaxMonitorEvent>.makeStream(bufferingPolicy: .bufferingNewest(Self.buffered))
        let id = add(.process(continuation))
        continuation.onTermination = { [weak self] _ in self?.remove(id) }
        return stream
    }

    /// A device event: to the device's streams and, as `.device`, to the process streams.
    func publish(_ event: DaxDeviceEvent, of device: DeviceHandle) {
        let key = ObjectIdentifier(device)
        let sinks = state.withLock { Array($0.sinks.values) }
        for sink in sinks {
            switch sink {
            case .device(let owner, let c) where owner == key: c.yield(event)
            case .process(let c): c.yield(.device(path: device.path, event))
            default: break
            }
        }
    }

    /// A process-wide event (uevents, dropped faults, a displaced handler).
    func publish(_ event: DaxMonitorEvent) {
        let sinks = state.withLock { Array($0.sinks.values) }
        for case .process(let c) in sinks { c.yield(event) }
    }

    /// Ends the device's streams (closed or gone).
    func finish(_ device: DeviceHandle) {
        let key = ObjectIdentifier(device)
        let ending = state.withLock { s -> [AsyncStream<DaxDeviceEvent>.Continuation] in
            var ending: [AsyncStream<DaxDeviceEvent>.Continuation] = []
            for (id, sink) in s.sinks {
                if case .device(let owner, let c) = sink, owner == key {
                    ending.append(c)
                    s.sinks.removeValue(forKey: id)
                    streams.subtract(1, ordering: .relaxed)
                }
            }
            return ending
        }
        for c in ending { c.finish() }
    }

    private func add(_ sink: Sink) -> UInt64 {
        streams.add(1, ordering: .relaxed)
        return state.withLock { s in
            let id = s.next
            s.next += 1
            s.sinks[id] = sink
            return id
        }
    }

    private func remove(_ id: UInt64) {
        if state.withLock({ $0.sinks.removeValue(forKey: id) }) != nil { streams.subtract(1, ordering: .relaxed) }
    }
}
