internal import CDaxMap
import Glibc

/// A detached pthread running a closure: for daxmap's own loops (the monitor)
/// and removals, which must not depend on the cooperative pool.
enum DetachedThread {
    private final class Body {
        let name: String
        let run: @Sendable () -> Void
        init(_ name: String, _ run: @escaping @Sendable () -> Void) {
            self.name = name
            self.run = run
        }
    }

    /// Starts `body` on a new thread named `name` (at most 15 bytes: what `ps -L`
    /// and debuggers show). Returns false (and runs nothing) when no thread could be created.
    @discardableResult
    static func start(name: String, _ body: @escaping @Sendable () -> Void) -> Bool {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Body(name, body)).toOpaque()
        let rc = pthread_create(&thread, nil, { arg in
            let body = Unmanaged<Body>.fromOpaque(arg!).takeRetainedValue()
            _ = cdaxmap_thread_set_name(body.name) // only what ps and debuggers show: the thread runs unnamed
            body.run()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<Body>.fromOpaque(box).release()
            return false
        }
        // Fails only for a thread that is not joinable or does not exist; this one was just created joinable.
        _ = pthread_detach(thread)
        return true
    }
}
