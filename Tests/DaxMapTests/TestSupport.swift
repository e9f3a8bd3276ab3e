import Glibc
@_exported import DaxMapTestKit
import DaxMapSync
import Testing
@testable import DaxMap

/// A holder that records what it is told and, unless stubborn, closes its mappings.
final class RecordingHolder: DaxHolder {
    let name: String
    let stubborn: Bool
    private let state = Locked<(failures: [DaxFailure], mappings: [DaxMapping])>(([], []))

    init(_ name: String, stubborn: Bool = false) {
        self.name = name
        self.stubborn = stubborn
    }

    func adopt(_ mapping: DaxMapping) { state.withLock { $0.mappings.append(mapping) } }

    var failures: [DaxFailure] { state.withLock { $0.failures } }

    func notifyFailure(_ failure: DaxFailure) async -> Bool {
        let mappings = state.withLock { s -> [DaxMapping] in
            s.failures.append(failure)
            return s.mappings + failure.mappings
        }
        if failure.kind == .preRemove && !stubborn {
            for m in mappings { m.close() }
        }
        return !stubborn
    }

    /// Waits (bounded) until a failure of `kind` arrives. Generous: busy suites
    /// (and TSan) slow everything down.
    func waitFor(_ kind: DaxFailure.Kind, seconds: Double = 20) async -> DaxFailure? {
        await waitFor(anyOf: [kind], seconds: seconds)
    }

    /// Waits (bounded) until a failure of one of `kinds` arrives.
    func waitFor(anyOf kinds: Set<DaxFailure.Kind>, seconds: Double = 20) async -> DaxFailure? {
        await waitUntil(seconds: seconds) { self.failures.contains { kinds.contains($0.kind) } }
        return failures.first { kinds.contains($0.kind) }
    }
}

func truncateFile(_ path: String, to size: Int) {
    precondition(truncate(path, off_t(size)) == 0, "truncate \(path) failed")
}

let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))


/// The file whose `change` write makes the kernel itself send a uevent (as `udevadm trigger` does).
let ueventTriggerFile = "/sys/devices/virtual/mem/null/uevent"

/// Cancels (skips, with the reason shown) a test that needs the kernel to send a real
/// uevent on request, where that cannot happen: writing the trigger file needs root and a
/// writable /sys, and a container usually mounts /sys read-only (EROFS). Every test that
/// triggers a uevent calls this, so they all skip, or all run, together.
func requireUEventTrigger() throws {
    let fd = open(ueventTriggerFile, O_WRONLY | O_CLOEXEC)
    if fd < 0 {
        let e = errno
        let why = e == EROFS ? "/sys is mounted read-only (a container?)" : String(cString: strerror(e))
        try Test.cancel("cannot open \(ueventTriggerFile) for writing: \(why) (errno \(e)); no way to make the kernel emit a uevent here")
    }
    close(fd)
}

/// A kernel uevent listener, or the test cancelled (skipped, with the reason) where the
/// sandbox refuses netlink; SysfsPoller is the library's fallback there.
func openUEventListener() throws -> UEventListener {
    // A Result rather than `catch ... where`, which crashes the 6.3.1 compiler here.
    switch Result(catching: { () throws(DaxError) in try UEventListener() }) {
    case .success(let listener):
        return listener
    case .failure(let error):
        if UEventListener.isUnavailable(error) {
            try Test.cancel("netlink uevent socket refused here (\(error)); SysfsPoller is the fallback")
        }
        throw error
    }
}

/// Cancels (skips, with the reason) a test that needs kernel uevents over netlink where
/// the sandbox refuses the socket.
func requireNetlinkUEvents() throws { try openUEventListener().close() }

/// The first `removalCompleted` report on `events`, or nil after `seconds`: a
/// removal that never comes fails the test instead of hanging the suite.
func removalReport(_ events: AsyncStream<DaxDeviceEvent>, seconds: Double = 30) async -> DaxRemovalReport? {
    await withTaskGroup(of: DaxRemovalReport?.self) { group in
        group.addTask {
            for await event in events { if case .removalCompleted(let r) = event { return r } }
            return nil
        }
        group.addTask {
            try? await Task.sleep(for: .seconds(seconds))
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}
