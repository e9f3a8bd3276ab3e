import Glibc
import DaxMapSync

/// The write end of the self-pipe the SIGINT/SIGTERM handler writes to.
nonisolated(unsafe) private var signalPipeWrite: CInt = -1

/// SIGINT/SIGTERM for long-running commands (`demo`, `watch`): the handler
/// only writes the signal number to a pipe (async-signal-safe); a thread of
/// its own reads it, runs the command's cleanup (remove temporary files,
/// print the summary) and exits with the status the cleanup returns.
enum SignalStop {
    private static let cleanup = Locked<(@Sendable (CInt) -> Int32)?>(nil)

    /// `onSignal` gets the signal and returns the exit status.
    static func install(_ onSignal: @escaping @Sendable (CInt) -> Int32) {
        cleanup.withLock { $0 = onSignal }
        var fds: [CInt] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        signalPipeWrite = fds[1]
        let readEnd = fds[0]
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { sig in
            var byte = UInt8(truncatingIfNeeded: sig)
            _ = write(signalPipeWrite, &byte, 1)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        sigaction(SIGINT, &action, nil)
        sigaction(SIGTERM, &action, nil)
        let box = UnsafeMutablePointer<CInt>.allocate(capacity: 1)
        box.pointee = readEnd
        var thread = pthread_t()
        _ = pthread_create(&thread, nil, { arg in
            let fd = arg!.assumingMemoryBound(to: CInt.self).pointee
            var byte: UInt8 = 0
            while read(fd, &byte, 1) != 1 {}
            let sig = CInt(byte)
            let status = SignalStop.cleanup.withLock { $0 }?(sig) ?? 128 + sig
            fflush(nil)
            _exit(status)
        }, box)
        pthread_detach(thread)
    }

    /// Replaces the cleanup (as a command learns what to clean).
    static func update(_ onSignal: @escaping @Sendable (CInt) -> Int32) {
        cleanup.withLock { $0 = onSignal }
    }
}
